package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A fenced block of README.md and the markers (HTML comments) right above it.
type readmeBlock struct {
	line    int    // of the opening fence
	lang    string // sh, bash, go, yaml, "" …
	text    string
	markers []string
}

// Markers the README uses to tell this test how to treat a block.
const (
	markNotRun = "not run:"            // <!-- not run: why --> : skipped, with the reason
	markBus    = "readme-test: bus"    // the block starts the bus (in the background; it replaces a running one)
	markOutput = "readme-test: output" // a plain block: lines the preceding command block (or bus) prints, in order
)

func readmeBlocks(t *testing.T, path string) []readmeBlock {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		blocks  []readmeBlock
		markers []string
		cur     *readmeBlock
		body    []string
	)
	for i, line := range strings.Split(string(raw), "\n") {
		trim := strings.TrimSpace(line)
		switch {
		case cur != nil && trim == "```":
			cur.text = strings.Join(body, "\n")
			blocks = append(blocks, *cur)
			cur, body = nil, nil
		case cur != nil:
			body = append(body, line)
		case strings.HasPrefix(trim, "```"):
			cur = &readmeBlock{line: i + 1, lang: strings.TrimPrefix(trim, "```"), markers: markers}
			markers = nil
		case strings.HasPrefix(trim, "<!--") && strings.HasSuffix(trim, "-->"):
			markers = append(markers, strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(trim, "<!--"), "-->")))
		case trim != "":
			markers = nil // a marker belongs to the block right below it
		}
	}
	if cur != nil {
		t.Fatalf("README.md:%d: a fenced block is not closed", cur.line)
	}
	return blocks
}

func (b readmeBlock) marker(prefix string) (string, bool) {
	for _, m := range b.markers {
		if rest, ok := strings.CutPrefix(m, prefix); ok {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

func (b readmeBlock) isCommand() bool { return b.lang == "sh" || b.lang == "bash" }

// wildcard turns a README expectation into a regular expression: "…"
// stands for any text and every run of digits for any number (counts,
// times, ids and ports differ from run to run).
func wildcard(s string) *regexp.Regexp {
	var re strings.Builder
	for i, part := range strings.Split(s, "…") {
		if i > 0 {
			re.WriteString(".*?")
		}
		re.WriteString(regexp.MustCompile(`[0-9]+`).ReplaceAllString(regexp.QuoteMeta(part), `[0-9]+`))
	}
	return regexp.MustCompile(re.String())
}

// matchLines checks that every line of want (with wildcards) matches a line
// of got, in order; got may have more lines.
func matchLines(want, got string) error {
	lines := strings.Split(got, "\n")
	at := 0
	for _, w := range strings.Split(strings.TrimSpace(want), "\n") {
		re := regexp.MustCompile("^" + wildcard(strings.TrimSpace(w)).String() + "$")
		for at < len(lines) && !re.MatchString(strings.TrimSpace(lines[at])) {
			at++
		}
		if at == len(lines) {
			return fmt.Errorf("no line (after the ones matched before) matches %q", w)
		}
		at++
	}
	return nil
}

// expectations are the "# → …" comments of a command block: what its
// commands print, in order.
func expectations(block string) []string {
	var out []string
	for _, line := range strings.Split(block, "\n") {
		if _, after, ok := strings.Cut(line, "# → "); ok {
			out = append(out, strings.TrimSpace(after))
		}
	}
	return out
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a background process's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// readmeBus is a bus started by a README block.
type readmeBus struct {
	block  readmeBlock
	cmd    *exec.Cmd
	out    *syncBuffer
	errLog *syncBuffer
	done   chan error
	// outputs are the README's output blocks of this bus (addresses
	// rewritten): what it prints, status lines included.
	outputs []readmeBlock
}

func (b *readmeBus) stop(t *testing.T) {
	t.Helper()
	if b == nil {
		return
	}
	// The first status line comes 5 s after the banner: give a bus
	// stopped sooner by the next bus block the time to print what its
	// output block shows.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if !slices.ContainsFunc(b.outputs, func(ob readmeBlock) bool { return matchLines(ob.text, b.out.String()) != nil }) {
			break
		}
	}
	_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGINT) // Ctrl-C, as a user would
	select {
	case <-b.done:
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.done
		t.Errorf("README.md:%d: the bus did not stop within a minute of Ctrl-C", b.block.line)
	}
	for _, ob := range b.outputs {
		if err := matchLines(ob.text, b.out.String()); err != nil {
			t.Errorf("README.md:%d: the bus started at line %d prints otherwise: %v\ngot:\n%s", ob.line, b.block.line, err, b.out.String())
		}
	}
}

// TestReadmeRuns runs README.md: every sh block, in order, as bash with
// lgsp on PATH (this tree's code) and `go run ./cmd/lgsp` meaning lgsp,
// against the dev bus the README starts, in a scratch directory that has
// the repository's examples/, policies/ and schemas/. Blocks run as in one
// terminal (variables set by one are seen by the next); a curl that gets
// an HTTP error fails its block (--fail-with-body), so does any failing
// command. The "# → …" comments and the output blocks are checked against
// what the commands print. Blocks marked "not run" are listed with their
// reasons; the README's addresses (localhost:8080, :8081, 127.0.0.1:9092)
// are rewritten to free ports.
func TestReadmeRuns(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's commands need %s on PATH (.ci/run installs it)", tool)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, filepath.Join(root, "README.md"))

	work, bin := t.TempDir(), t.TempDir()
	for _, d := range []string{"examples", "policies", "schemas", "docs"} {
		if err := os.Symlink(filepath.Join(root, d), filepath.Join(work, d)); err != nil {
			t.Fatal(err)
		}
	}
	// This tree's lgsp, built without the race detector even under -race:
	// the README's reconciliations and restarts take minutes with it.
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "lgsp"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	api, reg, kafka := freePort(t), freePort(t), freePort(t)
	addrs := strings.NewReplacer(
		"localhost:8080", "localhost:"+strconv.Itoa(api), "127.0.0.1:8080", "127.0.0.1:"+strconv.Itoa(api),
		"localhost:8081", "localhost:"+strconv.Itoa(reg), "127.0.0.1:8081", "127.0.0.1:"+strconv.Itoa(reg),
		"127.0.0.1:9092", "127.0.0.1:"+strconv.Itoa(kafka), "localhost:9092", "localhost:"+strconv.Itoa(kafka))
	env := append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		fmt.Sprintf("LGSP_API_ADDR=:%d", api), // as the default :8080: the banner says localhost
		fmt.Sprintf("LGSP_REGISTRY_ADDR=:%d", reg),
		fmt.Sprintf("LGSP_KAFKA_EMBEDDED_PORT=%d", kafka),
		"LGSP_TEST_README=1",
	)
	state := filepath.Join(work, ".readme-env")
	// `go run ./cmd/lgsp …` is lgsp; curl fails on an HTTP error status.
	prelude := `set -euo pipefail
go() { if [ "${1-}" = run ] && [ "${2-}" = ./cmd/lgsp ]; then shift 2; lgsp "$@"; else command go "$@"; fi; }
curl() { command curl --fail-with-body --show-error "$@"; }
`

	var (
		bus                  *readmeBus
		lastOut              string
		lastRun              *readmeBlock
		lastRunBus           *readmeBus
		ran, notRun, outputs int
	)
	defer func() { bus.stop(t) }()
	for i, b := range blocks {
		if reason, ok := b.marker(markNotRun); ok {
			if len(reason) < 10 {
				t.Errorf("README.md:%d: a block not run must say why", b.line)
			}
			notRun++
			t.Logf("README.md:%d: not run: %s", b.line, reason)
			continue
		}
		if _, ok := b.marker(markOutput); ok {
			// compared with what the last block that ran printed; a bus's
			// once it has stopped, so that its status lines are there
			outputs++
			switch {
			case lastRun == nil:
				t.Errorf("README.md:%d: an output block must follow the command block it shows", b.line)
			case lastRunBus != nil:
				ob := b
				ob.text = addrs.Replace(b.text)
				lastRunBus.outputs = append(lastRunBus.outputs, ob)
			default:
				if err := matchLines(addrs.Replace(b.text), lastOut); err != nil {
					t.Errorf("README.md:%d: the output of the block at line %d differs: %v\ngot:\n%s", b.line, lastRun.line, err, lastOut)
				}
			}
			continue
		}
		if !b.isCommand() {
			continue // code in other languages, configuration, formats: not commands
		}
		text := addrs.Replace(b.text)
		lastRun = &blocks[i]
		if _, ok := b.marker(markBus); ok {
			bus.stop(t)
			bus = startReadmeBus(t, b, prelude+text, work, env)
			lastRunBus = bus
			ran++
			continue
		}
		lastRunBus = nil
		script := prelude + fmt.Sprintf("[ -f %q ] && . %q\nset -a\n", state, state) + text +
			fmt.Sprintf("\nset +a\ndeclare -px | grep '^declare -x ' > %q\n", state)
		cmd := exec.Command("bash", "-c", script)
		cmd.Dir, cmd.Env = work, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		t.Logf("README.md:%d: running\n%s", b.line, b.text)
		err := runWithin(cmd, 3*time.Minute)
		lastOut = stdout.String()
		ran++
		if err != nil {
			msg := fmt.Sprintf("README.md:%d: the block failed: %v\n%s\nstdout:\n%s\nstderr:\n%s", b.line, err, b.text, lastOut, stderr.String())
			if bus != nil {
				msg += "\nbus log (tail):\n" + tail(bus.errLog.String(), 20)
			}
			t.Fatal(msg)
		}
		at := 0
		for _, want := range expectations(b.text) {
			loc := wildcard(addrs.Replace(want)).FindStringIndex(lastOut[at:])
			if loc == nil {
				t.Errorf("README.md:%d: the output lacks %q (after what matched before):\n%s", b.line, want, lastOut)
				break
			}
			at += loc[1]
		}
	}
	bus.stop(t)
	bus = nil
	t.Logf("ran %d blocks, checked %d output blocks, %d not run", ran, outputs, notRun)
	if ran < 15 || notRun > 8 {
		t.Errorf("ran %d blocks and skipped %d: the README test should run nearly all of them", ran, notRun)
	}
}

// startReadmeBus starts a bus block in the background, in its own process
// group (stopped like Ctrl-C), and waits until it says it is ready.
func startReadmeBus(t *testing.T, b readmeBlock, script, dir string, env []string) *readmeBus {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, errLog := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, errLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rb := &readmeBus{block: b, cmd: cmd, out: out, errLog: errLog, done: make(chan error, 1)}
	go func() { rb.done <- cmd.Wait() }()
	t.Logf("README.md:%d: starting the bus: %s", b.line, strings.TrimSpace(b.text))
	deadline := time.After(3 * time.Minute)
	for !strings.Contains(out.String(), "LGSP bus ready") {
		select {
		case err := <-rb.done:
			t.Fatalf("README.md:%d: the bus stopped before it was ready: %v\n%s\n%s", b.line, err, out.String(), tail(errLog.String(), 30))
		case <-deadline:
			rb.stop(t)
			t.Fatalf("README.md:%d: the bus was not ready within 3 minutes\n%s", b.line, tail(errLog.String(), 30))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return rb
}

// runWithin runs cmd, killing it if it outlives limit (a block waiting on
// a server that never answers must not hang the suite).
func runWithin(cmd *exec.Cmd, limit time.Duration) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("still running after %s", limit)
	}
}

// The helpers' own rules: markers, wildcards, line matching.
func TestReadmeRunnerRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "R.md")
	os.WriteFile(path, []byte("text\n<!-- not run: needs docker here -->\n```sh\ndocker ps\n```\n\n<!-- readme-test: output -->\n```\nok\n```\n<!-- stray -->\nprose\n```go\nx\n```\n"), 0o644)
	bs := readmeBlocks(t, path)
	if len(bs) != 3 || bs[0].lang != "sh" || bs[0].text != "docker ps" || bs[2].lang != "go" || len(bs[2].markers) != 0 {
		t.Fatalf("blocks: %+v", bs)
	}
	if r, ok := bs[0].marker(markNotRun); !ok || r != "needs docker here" {
		t.Fatalf("not run: %q %v", r, ok)
	}
	if _, ok := bs[1].marker(markOutput); !ok {
		t.Fatal("output marker")
	}
	for _, tc := range []struct {
		want, got string
		ok        bool
	}{
		{"audit log OK: 5123 entries", "audit log OK: 7 entries", true},
		{`{"id":"tok_…","token":"lgsp_…"}`, `{"id":"tok_ab12","token":"lgsp_xyz"}`, true},
		{"root …", "root 9f2c", true},
		{"audit log OK", "audit log TAMPERED", false},
	} {
		if got := wildcard(tc.want).MatchString(tc.got); got != tc.ok {
			t.Errorf("%q ~ %q: %v", tc.want, tc.got, got)
		}
	}
	if err := matchLines("a 1\nc …", "a 22\nb\nc d"); err != nil {
		t.Error(err)
	}
	if err := matchLines("c\na", "a\nc"); err == nil {
		t.Error("lines out of order matched")
	}
	if got := expectations("curl x\n# → {\"match\":true}\nls"); len(got) != 1 || got[0] != `{"match":true}` {
		t.Errorf("expectations: %q", got)
	}
}
