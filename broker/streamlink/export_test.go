package streamlink

// Sizes are the bytes of the current linker's population and of its
// own blocking arrays (for BenchmarkBusMemory).
func (l *Linker) Sizes() (population, rules int) {
	b := l.cur.Load()
	if b.base == nil {
		return 0, 0
	}
	return b.base.Population().SizeBytes(), b.base.RulesSizeBytes()
}
