package policies

// LoadDirOrBuiltin reads the agreements of dir, or the ones built into the binary when
// dir is "" or "builtin" (lgsp policy).
func LoadDirOrBuiltin(dir string) (*Set, error) {
	if dir == "" || dir == "builtin" {
		return LoadEmbedded()
	}
	return LoadDir(dir)
}

// Lint reads the agreements of dir (LoadDirOrBuiltin) and checks that every consumer
// is an agency of agenciesFile (the built-in registry when ""): what
// lgsp policy check reports, each problem with its file and line.
func Lint(dir, agenciesFile string) (*Set, error) {
	set, err := LoadDirOrBuiltin(dir)
	if err != nil {
		return nil, err
	}
	agencies, err := LoadEmbeddedAgencies()
	if agenciesFile != "" {
		agencies, err = LoadAgenciesFile(agenciesFile)
	}
	if err == nil {
		err = agencies.CheckConsumers(set)
	}
	if err != nil {
		return nil, err
	}
	return set, nil
}
