// Package docs_test keeps the documentation honest. Over README.md and
// docs/**/*.md it checks that every Go block compiles (a whole file) or
// is found in the source file it names (a fragment); that every relative
// link and #anchor resolves; that every key of a configuration block and
// every FOUNDATION_* variable exists in the code; that the configuration
// reference pairs each key with its variable and its per-profile
// defaults as the presets hold them; that the API reference links every
// public package; and that the troubleshooting page lists every error
// sentinel of the public packages with its real message.
package docs_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/federation"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// root is the module root, relative to this package's directory.
const root = ".."

// troubleshooting is the page that lists every error sentinel.
const troubleshooting = "docs/reference/troubleshooting.md"

// reporter is what the checks report to: a *testing.T, or a recorder in
// the tests of the checks themselves.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// A page is one Markdown file.
type page struct {
	path   string   // slash-separated, relative to the module root
	lines  []string // the whole file
	blocks []block  // its fenced code blocks
	prose  []bool   // prose[i]: line i+1 is outside every fenced block
}

// A block is one fenced code block.
type block struct {
	lang string
	line int      // 1-based line of the block's first content line
	text []string // its lines, without the fences
}

// at names a line of the page for error messages.
func (p page) at(line int) string { return fmt.Sprintf("%s:%d", p.path, line) }

// loadPages reads README.md and every Markdown file under docs/.
func loadPages(t *testing.T) []page {
	t.Helper()
	paths := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var pages []page
	for _, p := range paths {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, parsePage(p, string(data)))
	}
	return pages
}

// loadMarkdown reads every Markdown file of the repository, outside
// directories starting with "." or "_" and testdata.
func loadMarkdown(t *testing.T) []page {
	t.Helper()
	var pages []page
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".md") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		pages = append(pages, parsePage(filepath.ToSlash(rel), string(data)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

// parsePage splits a Markdown file into prose and fenced blocks.
func parsePage(path, text string) page {
	p := page{path: path, lines: strings.Split(strings.TrimSuffix(text, "\n"), "\n")}
	p.prose = make([]bool, len(p.lines))
	var cur *block
	fence := ""
	for i, l := range p.lines {
		trim := strings.TrimSpace(l)
		switch {
		case cur == nil && (strings.HasPrefix(trim, "```") || strings.HasPrefix(trim, "~~~")):
			fence = trim[:3]
			cur = &block{lang: strings.TrimSpace(strings.TrimLeft(trim, fence[:1])), line: i + 2}
		case cur != nil && strings.HasPrefix(trim, fence) && strings.Trim(trim, fence[:1]) == "":
			p.blocks = append(p.blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text = append(cur.text, l)
		default:
			p.prose[i] = true
		}
	}
	if cur != nil { // an unclosed fence runs to the end, as in CommonMark
		p.blocks = append(p.blocks, *cur)
	}
	return p
}

// ---- Go blocks ----

var fromRE = regexp.MustCompile(`^//\s*from\s+(\S+)\s*$`)

// Every ```go block is either a whole file (it starts with a package
// clause), which must be gofmt'ed and compile (go vet, all blocks in one
// invocation), or a fragment whose first line names its source
// ("// from examples/node/main.go"), whose code lines must appear in that
// file in the same order.
func TestGoBlocks(t *testing.T) {
	type whole struct {
		p   page
		b   block
		dir string
	}
	var files []whole
	for _, p := range loadPages(t) {
		for _, b := range p.blocks {
			if b.lang != "go" {
				continue
			}
			first := ""
			for _, l := range b.text {
				if strings.TrimSpace(l) != "" {
					first = strings.TrimSpace(l)
					break
				}
			}
			switch m := fromRE.FindStringSubmatch(first); {
			case strings.HasPrefix(first, "package "):
				src := strings.Join(b.text, "\n") + "\n"
				formatted, err := format.Source([]byte(src))
				if err != nil {
					t.Errorf("%s: Go block does not parse: %v", p.at(b.line), err)
					continue
				}
				if string(formatted) != src {
					t.Errorf("%s: Go block is not gofmt'ed; gofmt makes it:\n%s", p.at(b.line), formatted)
				}
				files = append(files, whole{p: p, b: b})
			case m != nil:
				checkFragment(t, p, b, m[1])
			default:
				t.Errorf("%s: Go block is neither a whole file (starting with a package clause) nor a fragment whose first line names its source (// from path/to/file.go)", p.at(b.line))
			}
		}
	}
	if len(files) == 0 {
		return
	}
	// One package per block, in a directory of the module (so that the
	// module's dependencies resolve) whose name the go tool's patterns
	// ignore, built with one go vet.
	dir, err := os.MkdirTemp(root, "_docs-build-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	base := filepath.Base(dir)
	args := []string{"vet"}
	for i := range files {
		files[i].dir = fmt.Sprintf("b%03d", i)
		d := filepath.Join(dir, files[i].dir)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		src := strings.Join(files[i].b.text, "\n") + "\n"
		if err := os.WriteFile(filepath.Join(d, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "./"+base+"/"+files[i].dir)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to compile the documentation's Go blocks: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), goTool, args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err == nil {
		return
	}
	// Name each problem by the page and line it comes from.
	text := string(out)
	for _, f := range files {
		prefix := regexp.MustCompile(regexp.QuoteMeta(base+"/"+f.dir+"/main.go:") + `(\d+)`)
		text = prefix.ReplaceAllStringFunc(text, func(s string) string {
			n, _ := strconv.Atoi(prefix.FindStringSubmatch(s)[1])
			return f.p.at(f.b.line + n - 1)
		})
		pkg := regexp.MustCompile(`[^\s\[\]]*` + regexp.QuoteMeta(base+"/"+f.dir))
		text = pkg.ReplaceAllLiteralString(text, "the block at "+f.p.at(f.b.line))
	}
	t.Errorf("Go blocks of the documentation do not compile (go vet): %v\n%s", err, text)
}

// checkFragment checks that the code lines of b (after its "// from"
// line) appear, in order, in the file src names. Lines are compared
// without their comments and with white space collapsed; comment-only
// lines and "..." are free. A source line inside a doc comment
// ("//	x := f()") counts as code, so fragments may quote doc.go examples.
func checkFragment(t reporter, p page, b block, src string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(src)))
	if err != nil {
		t.Errorf("%s: fragment names %s, which cannot be read: %v", p.at(b.line), src, err)
		return
	}
	var source [][]string // per source line: its code, and its code inside a comment
	for _, l := range strings.Split(string(data), "\n") {
		alts := []string{codeOf(l)}
		if c := strings.TrimSpace(l); strings.HasPrefix(c, "//") {
			alts = append(alts, codeOf(strings.TrimPrefix(c, "//")))
		}
		source = append(source, alts)
	}
	next := 0
	for i, l := range b.text {
		code := codeOf(l) // the "// from" line is a comment: no code
		if code == "" || code == "..." {
			continue
		}
		found := -1
		for j := next; j < len(source) && found < 0; j++ {
			if slices.Contains(source[j], code) {
				found = j
			}
		}
		if found < 0 {
			where := "in"
			if next > 0 {
				where = fmt.Sprintf("after line %d of", next)
			}
			t.Errorf("%s: fragment line %q is not %s %s", p.at(b.line+i), strings.TrimSpace(l), where, src)
			return
		}
		next = found + 1
	}
}

// codeOf returns the code of a Go line: its comment removed (outside
// string and rune literals) and its white space collapsed.
func codeOf(line string) string {
	var quote rune
	rs := []rune(line)
	end := len(rs)
scan:
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; {
		case quote != 0 && c == '\\' && quote != '`':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '/' && i+1 < len(rs) && rs[i+1] == '/':
			end = i
			break scan
		}
	}
	return strings.Join(strings.Fields(string(rs[:end])), " ")
}

// ---- links ----

var (
	linkRE = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	codeRE = regexp.MustCompile("`[^`]*`")
)

// Every relative link of every Markdown file of the repository (the
// documentation, the README, BENCHMARKS.md, the examples' READMEs)
// resolves to a file or directory of the repository, and a #fragment to
// a heading of the Markdown file it points into.
func TestLinks(t *testing.T) {
	pages := loadMarkdown(t)
	anchors := map[string]map[string]bool{}
	anchorsOf := func(file string) map[string]bool {
		if a, ok := anchors[file]; ok {
			return a
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
		if err != nil {
			return nil
		}
		a := headingAnchors(parsePage(file, string(data)))
		anchors[file] = a
		return a
	}
	for _, p := range pages {
		for i, l := range p.lines {
			if !p.prose[i] {
				continue
			}
			for _, m := range linkRE.FindAllStringSubmatch(codeRE.ReplaceAllString(l, "code"), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				file, anchor, _ := strings.Cut(target, "#")
				if file == "" {
					file = p.path
				} else {
					file = path.Clean(path.Join(path.Dir(p.path), file))
				}
				if strings.HasPrefix(file, "../") {
					t.Errorf("%s: link %s leaves the repository", p.at(i+1), target)
					continue
				}
				if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(file))); err != nil {
					t.Errorf("%s: link %s: no such file or directory %s", p.at(i+1), target, file)
					continue
				}
				if anchor != "" && strings.HasSuffix(file, ".md") && !anchorsOf(file)[anchor] {
					t.Errorf("%s: link %s: %s has no heading with anchor #%s", p.at(i+1), target, file, anchor)
				}
			}
		}
	}
}

// headingAnchors returns the anchors GitHub gives the page's headings:
// lower case, punctuation dropped, spaces as hyphens, "-1", "-2"... for
// repeats.
func headingAnchors(p page) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for i, l := range p.lines {
		if !p.prose[i] || !strings.HasPrefix(l, "#") {
			continue
		}
		text := strings.TrimLeft(l, "#")
		if text == "" || text[0] != ' ' {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(text)) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

// ---- configuration keys and variables ----

var (
	foundationYAML = regexp.MustCompile(`^#\s*foundation\.yaml\b`)
	federationYAML = regexp.MustCompile(`^#\s*federation\.yaml\b`)
)

// Every ```yaml block says what it is on its first line, a comment. A
// block that starts "# foundation.yaml" is a member's configuration file
// and one that starts "# federation.yaml" a federation file: each of
// their keys must be one the code reads (the yaml tags of cluster.Config
// and federation.File, recursively), and the block must decode as the
// loaders decode it (unknown keys refused). Other blocks (Kubernetes
// manifests, a Prometheus configuration) are not Foundation's and are
// not checked.
func TestConfigKeys(t *testing.T) {
	for _, p := range loadPages(t) {
		for _, b := range p.blocks {
			if b.lang != "yaml" && b.lang != "yml" {
				continue
			}
			first := ""
			if len(b.text) > 0 {
				first = strings.TrimSpace(b.text[0])
			}
			var typ reflect.Type
			switch {
			case foundationYAML.MatchString(first):
				typ = reflect.TypeFor[cluster.Config]()
			case federationYAML.MatchString(first):
				typ = reflect.TypeFor[federation.File]()
			case strings.HasPrefix(first, "#"):
				continue
			default:
				t.Errorf("%s: YAML block does not say what it is: start it with \"# foundation.yaml\", \"# federation.yaml\" or a comment naming the file (\"# deployment.yaml\")", p.at(b.line))
				continue
			}
			checkYAML(t, p, b, typ)
		}
	}
}

// checkYAML checks a block's keys against typ's yaml tags, then decodes
// it strictly into a typ.
func checkYAML(t reporter, p page, b block, typ reflect.Type) {
	t.Helper()
	text := strings.Join(b.text, "\n")
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Errorf("%s: YAML block does not parse: %v", p.at(b.line), err)
		return
	}
	bad := false
	walkYAML(&doc, typ, "", func(line int, key string) {
		bad = true
		t.Errorf("%s: unknown configuration key %q (%s reads no such key)", p.at(b.line+line-1), key, typ)
	})
	if bad {
		return
	}
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(reflect.New(typ).Interface()); err != nil && !errors.Is(err, io.EOF) {
		t.Errorf("%s: YAML block does not decode as a %s: %v", p.at(b.line), typ, err)
	}
}

// walkYAML calls unknown for every mapping key of n that typ has no yaml
// tag for, recursing through structs, maps and slices.
func walkYAML(n *yaml.Node, typ reflect.Type, prefix string, unknown func(line int, key string)) {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			walkYAML(c, typ, prefix, unknown)
		}
		return
	}
	switch {
	case n.Kind == yaml.MappingNode && typ.Kind() == reflect.Struct:
		fields := yamlFields(typ)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				unknown(k.Line, prefix+k.Value)
				continue
			}
			walkYAML(v, ft, prefix+k.Value+".", unknown)
		}
	case n.Kind == yaml.MappingNode && typ.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkYAML(n.Content[i+1], typ.Elem(), prefix+n.Content[i].Value+".", unknown)
		}
	case n.Kind == yaml.SequenceNode && (typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array):
		for _, c := range n.Content {
			walkYAML(c, typ.Elem(), prefix, unknown)
		}
	}
}

// yamlFields maps the YAML keys of a struct type to their field types,
// as gopkg.in/yaml.v3 does: the tag's name, else the lower-cased field
// name; "-" and unexported fields have none; ",inline" structs lend
// theirs.
func yamlFields(typ reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range typ.Fields() {
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if slices.Contains(strings.Split(opts, ","), "inline") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

var envRE = regexp.MustCompile(`\bFOUNDATION_[A-Z0-9_]*[A-Z0-9]`)

// Every FOUNDATION_* variable a page names is one the code reads: a
// variable of LoadConfig's table (cluster.EnvVars), or one named by a
// string literal in the module's Go code (the CLI's FOUNDATION_ADDR, the
// k8s provider's FOUNDATION_KUBECONFIG...).
func TestEnvVars(t *testing.T) {
	known := map[string]bool{}
	for _, v := range cluster.EnvVars() {
		known[v.Name] = true
	}
	literal := regexp.MustCompile(`"(FOUNDATION_[A-Z0-9_]+)"`)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") || d.Name() == "docs") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllSubmatch(data, -1) {
			known[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range loadPages(t) {
		for i, l := range p.lines {
			for _, v := range envRE.FindAllString(l, -1) {
				if !known[v] {
					t.Errorf("%s: %s is not a variable Foundation reads (cluster.EnvVars lists the configuration's)", p.at(i+1), v)
				}
			}
		}
	}
}

// ---- error sentinels ----

// A sentinel is one documented error of a public package.
type sentinel struct {
	pkg, name, msg, file string
}

// sentinels finds every `ErrX = errors.New("...")` of the module's public
// packages: not internal/, examples/, bench/, tools/, cmd/ (programs), nor
// the test kits (packages whose name ends in "test", and e2e).
func sentinels(t *testing.T) []sentinel {
	t.Helper()
	skip := map[string]bool{"internal": true, "examples": true, "bench": true, "tools": true, "cmd": true, "docs": true, "testdata": true}
	var out []sentinel
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (skip[d.Name()] || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkg := f.Name.Name
		if strings.HasSuffix(pkg, "test") || pkg == "e2e" || pkg == "main" {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Err") || !name.IsExported() || i >= len(vs.Values) {
						continue
					}
					if msg, ok := errorsNew(vs.Values[i]); ok {
						out = append(out, sentinel{pkg: pkg, name: name.Name, msg: msg, file: filepath.ToSlash(rel)})
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// errorsNew returns the message of errors.New("message").
func errorsNew(e ast.Expr) (string, bool) {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return "", false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "New" {
		return "", false
	}
	if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "errors" {
		return "", false
	}
	lit, ok := call.Args[0].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

var sentinelRowRE = regexp.MustCompile("^\\|\\s*`([a-z0-9]+)\\.(Err[A-Za-z0-9]+)`\\s*\\|\\s*`([^`]*)`\\s*\\|")

// The troubleshooting page has a row for every error sentinel of the
// public packages, with the message the code gives it, and no row for a
// sentinel that does not exist.
func TestTroubleshootingListsEveryError(t *testing.T) {
	var p page
	for _, q := range loadPages(t) {
		if q.path == troubleshooting {
			p = q
		}
	}
	if p.path == "" {
		t.Fatalf("%s is missing", troubleshooting)
	}
	code := map[string]sentinel{}
	for _, s := range sentinels(t) {
		code[s.pkg+"."+s.name] = s
	}
	listed := map[string]bool{}
	for i, l := range p.lines {
		m := sentinelRowRE.FindStringSubmatch(l)
		if m == nil || !p.prose[i] {
			continue
		}
		key := m[1] + "." + m[2]
		s, ok := code[key]
		switch {
		case !ok:
			t.Errorf("%s: %s is not an error of a public package", p.at(i+1), key)
		case s.msg != m[3]:
			t.Errorf("%s: %s's message is %q (%s), not %q", p.at(i+1), key, s.msg, s.file, m[3])
		}
		listed[key] = true
	}
	var missing []string
	for key, s := range code {
		if !listed[key] {
			missing = append(missing, fmt.Sprintf("| `%s` | `%s` | (%s) |", key, s.msg, s.file))
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("%s does not list %d errors:\n%s", troubleshooting, len(missing), strings.Join(missing, "\n"))
	}
}

// ---- the configuration reference ----

// configurationOptions is the page with a row per configuration key.
const configurationOptions = "docs/reference/configuration-options.md"

var (
	configRowRE = regexp.MustCompile("^\\|\\s*`([a-z_.]+)`\\s*\\|\\s*`(FOUNDATION_[A-Z0-9_]+)`(?:\\s*\\(else `([A-Z0-9_]+)`\\))?\\s*\\|([^|]*)\\|")
	tickRE      = regexp.MustCompile("`([^`]*)`")
)

// Every row of the configuration reference pairs a key with the variable
// LoadConfig reads for it (and its fallback), every key has a row, and
// the default column is what the presets hold: one value for every
// profile, or development / production / enterprise, or "—" for empty.
func TestConfigurationOptionsMatchTheCode(t *testing.T) {
	var p page
	for _, q := range loadPages(t) {
		if q.path == configurationOptions {
			p = q
		}
	}
	if p.path == "" {
		t.Fatalf("%s is missing", configurationOptions)
	}
	vars := map[string]cluster.EnvVar{}
	for _, v := range cluster.EnvVars() {
		vars[v.Key] = v
	}
	profiles := []cluster.Profile{cluster.ProfileDevelopment, cluster.ProfileProduction, cluster.ProfileEnterprise}
	seen := map[string]bool{}
	for i, l := range p.lines {
		m := configRowRE.FindStringSubmatch(l)
		if m == nil || !p.prose[i] {
			continue
		}
		key, name, fallback, def := m[1], m[2], m[3], strings.TrimSpace(m[4])
		seen[key] = true
		v, ok := vars[key]
		switch {
		case !ok:
			t.Errorf("%s: %s is not a configuration key", p.at(i+1), key)
			continue
		case v.Name != name:
			t.Errorf("%s: %s is read from %s, not %s", p.at(i+1), key, v.Name, name)
		case v.Fallback != fallback:
			t.Errorf("%s: %s falls back to %q, not %q", p.at(i+1), key, v.Fallback, fallback)
		}
		want := defaultsOf(def)
		if key == "profile" { // the profile chooses the preset: its default is the zero profile's
			if got := cluster.Preset("").Profile; len(want) != 1 || string(got) != want[0] {
				t.Errorf("%s: the default profile is %s, not %v", p.at(i+1), got, want)
			}
			continue
		}
		for j, prof := range profiles {
			c := cluster.Preset(prof)
			f, ok := yamlField(reflect.ValueOf(c), key)
			if !ok {
				t.Errorf("%s: %s has no field in cluster.Config", p.at(i+1), key)
				break
			}
			w := ""
			switch len(want) {
			case 0: // "—": empty
			case 1:
				w = want[0]
			case 3:
				w = want[j]
			default:
				t.Errorf("%s: %s: the default column %q gives %d values; want one, or one per profile (development / production / enterprise), or —", p.at(i+1), key, def, len(want))
				continue
			}
			if !sameValue(f, w) {
				t.Errorf("%s: %s defaults to %v in the %s profile, not %q", p.at(i+1), key, f.Interface(), prof, w)
			}
		}
	}
	for key := range vars {
		if !seen[key] {
			t.Errorf("%s has no row for %s", configurationOptions, key)
		}
	}
}

// defaultsOf reads a default column: the backquoted values before any
// parenthesis, none for "—".
func defaultsOf(col string) []string {
	if i := strings.Index(col, "("); i >= 0 {
		col = col[:i]
	}
	var out []string
	for _, m := range tickRE.FindAllStringSubmatch(col, -1) {
		out = append(out, m[1])
	}
	return out
}

// yamlField finds the field of v at the dotted YAML key.
func yamlField(v reflect.Value, key string) (reflect.Value, bool) {
	for part := range strings.SplitSeq(key, ".") {
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		i := slices.IndexFunc(slices.Collect(v.Type().Fields()), func(f reflect.StructField) bool {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			return name == part
		})
		if i < 0 {
			return reflect.Value{}, false
		}
		v = v.Field(i)
	}
	return v, true
}

// sameValue reports whether field f holds the value the page gives as
// text ("" for the zero value).
func sameValue(f reflect.Value, text string) bool {
	if text == "" {
		return f.IsZero()
	}
	if f.Type() == reflect.TypeFor[time.Duration]() {
		d, err := time.ParseDuration(text)
		return err == nil && d == time.Duration(f.Int())
	}
	switch f.Kind() {
	case reflect.String:
		return f.String() == text
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(text, 10, 64)
		return err == nil && n == f.Int()
	case reflect.Bool:
		b, err := strconv.ParseBool(text)
		return err == nil && b == f.Bool()
	case reflect.Float64:
		x, err := strconv.ParseFloat(text, 64)
		return err == nil && x == f.Float()
	}
	return false
}

// The configuration reference has a row for every key of the federation
// file (federation.File's yaml tags; a cluster's own section is the
// member configuration above it).
func TestConfigurationOptionsListFederationKeys(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, configurationOptions))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range federationKeys(reflect.TypeFor[federation.File](), "") {
		if !strings.Contains(string(data), "| `"+key+"` |") {
			t.Errorf("%s has no row for the federation file's key %s", configurationOptions, key)
		}
	}
}

// federationKeys lists the YAML keys of typ: a map's entries as
// "<name>", a slice's elements as "[]", a cluster.Config as one key.
func federationKeys(typ reflect.Type, prefix string) []string {
	var out []string
	for k, ft := range yamlFields(typ) {
		key := prefix + k
		out = append(out, key)
		switch {
		case ft == reflect.TypeFor[cluster.Config]():
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			out = append(out, federationKeys(ft.Elem(), key+".<name>.")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, federationKeys(ft.Elem(), key+"[].")...)
		case ft.Kind() == reflect.Struct:
			out = append(out, federationKeys(ft, key+".")...)
		}
	}
	slices.Sort(out)
	return out
}

// ---- the API reference ----

// apiReference is the page with a row per public package.
const apiReference = "docs/reference/api-reference.md"

// The API reference links to every public package's directory: every
// directory with Go files outside internal/, examples/, bench/, tools/
// and docs/. (Links that point nowhere fail TestLinks.)
func TestAPIReferenceListsEveryPackage(t *testing.T) {
	var p page
	for _, q := range loadPages(t) {
		if q.path == apiReference {
			p = q
		}
	}
	if p.path == "" {
		t.Fatalf("%s is missing", apiReference)
	}
	linked := map[string]bool{}
	for i, l := range p.lines {
		if !p.prose[i] {
			continue
		}
		for _, m := range linkRE.FindAllStringSubmatch(codeRE.ReplaceAllString(l, "code"), -1) {
			file, _, _ := strings.Cut(m[1], "#")
			linked[path.Clean(path.Join(path.Dir(p.path), file))] = true
		}
	}
	skip := map[string]bool{"internal": true, "examples": true, "bench": true, "tools": true, "docs": true, "testdata": true}
	err := filepath.WalkDir(root, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && q != root && (skip[d.Name()] || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
			return filepath.SkipDir
		}
		if !d.IsDir() || !hasGoFiles(q) {
			return nil
		}
		rel, err := filepath.Rel(root, q)
		if err != nil {
			return err
		}
		if rel := filepath.ToSlash(rel); !linked[rel] {
			t.Errorf("%s does not link to package %s", apiReference, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hasGoFiles reports whether dir holds a Go file that is not a test.
func hasGoFiles(dir string) bool {
	entries, _ := os.ReadDir(dir)
	return slices.ContainsFunc(entries, func(e fs.DirEntry) bool {
		return !e.IsDir() && strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go")
	})
}

// ---- the checker checks ----

// The checks above find what they are meant to find: a broken page of
// each kind fails them. (The pages themselves are checked by the tests
// above; these run the same functions on small pages made here.)
func TestCheckersFindProblems(t *testing.T) {
	t.Run("fragment", func(t *testing.T) {
		ft := &recorder{}
		p := parsePage("docs/x.md", "```go\n// from examples/node/main.go\nnode, err := foundation.Start(ctx, opts...)\nnot(in, the, file)\n```\n")
		checkFragment(ft, p, p.blocks[0], "examples/node/main.go")
		if !ft.failedWith(`docs/x.md:4: fragment line "not(in, the, file)"`) {
			t.Errorf("a fragment line that is not in its source passed: %v", ft.msgs)
		}
		ft = &recorder{}
		checkFragment(ft, p, block{line: 1, text: []string{"// from examples/node/main.go", "opts := []foundation.Option{", "node, err := foundation.Start(ctx, opts...) // a comment of the page's own", "	// ...", "flag.Parse()"}}, "examples/node/main.go")
		if !ft.failedWith("is not after line") {
			t.Errorf("a fragment whose lines are out of order passed: %v", ft.msgs)
		}
	})
	t.Run("yaml", func(t *testing.T) {
		ft := &recorder{}
		p := parsePage("docs/x.md", "text\n```yaml\n# foundation.yaml\nsplit_brain:\n  strategy: keep-oldest\n  stabel_after: 1s\n```\n")
		checkYAML(ft, p, p.blocks[0], reflect.TypeFor[cluster.Config]())
		if !ft.failedWith(`docs/x.md:6: unknown configuration key "split_brain.stabel_after"`) {
			t.Errorf("an unknown key passed: %v", ft.msgs)
		}
		ft = &recorder{}
		p = parsePage("docs/x.md", "```yaml\n# federation.yaml\nclusters:\n  web:\n    cluster: {provider: static, sedes: [a:1]}\n```\n")
		checkYAML(ft, p, p.blocks[0], reflect.TypeFor[federation.File]())
		if !ft.failedWith(`docs/x.md:5: unknown configuration key "clusters.web.cluster.sedes"`) {
			t.Errorf("an unknown key in a federation file passed: %v", ft.msgs)
		}
		ft = &recorder{}
		p = parsePage("docs/x.md", "```yaml\n# foundation.yaml\nport: seven\n```\n")
		checkYAML(ft, p, p.blocks[0], reflect.TypeFor[cluster.Config]())
		if !ft.failedWith("does not decode") {
			t.Errorf("a value of the wrong type passed: %v", ft.msgs)
		}
	})
	t.Run("anchors", func(t *testing.T) {
		a := headingAnchors(parsePage("x.md", "# Discovery: etcd\n```\n# not a heading\n```\n## `Send` and `Call`\n## Send and Call\n"))
		for _, want := range []string{"discovery-etcd", "send-and-call", "send-and-call-1"} {
			if !a[want] {
				t.Errorf("no anchor %q in %v", want, a)
			}
		}
		if a["not-a-heading"] {
			t.Errorf("a comment in a code block became a heading")
		}
	})
	t.Run("code", func(t *testing.T) {
		for in, want := range map[string]string{
			`	x := f("a // b") // c`: `x := f("a // b")`,
			"	u := `http://x` // y":  "u := `http://x`",
			`// only a comment`:      ``,
			`r := '/' // slash`:      `r := '/'`,
		} {
			if got := codeOf(in); got != want {
				t.Errorf("codeOf(%q) = %q, want %q", in, got, want)
			}
		}
	})
}

// recorder records what a check reports, for the tests of the checks.
type recorder struct{ msgs []string }

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) failedWith(s string) bool {
	return slices.ContainsFunc(r.msgs, func(m string) bool { return strings.Contains(m, s) })
}
