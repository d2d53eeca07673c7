package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// configSource holds LoadConfig's inputs, so that they can be applied again
// to another preset.
type configSource struct {
	path        string
	file        []byte // nil when there is no file
	fileProfile Profile
	lookupEnv   func(string) (string, bool)
}

// LoadConfig builds a member's configuration from, in increasing order of
// precedence: the preset of the profile, the YAML file at path, FOUNDATION_*
// environment variables, and override (options set in code). It fills what
// is still zero with WithDefaults and returns the result of Validate.
//
//   - The profile, which chooses the preset, is read first: from
//     FOUNDATION_PROFILE, else the file's "profile" key, else development.
//   - path "" means no file. Unknown keys in the file are an error naming
//     them. Lists and maps from a file or a variable replace the preset's;
//     they are not merged.
//   - lookupEnv reads the environment: pass os.LookupEnv, or a fake in tests;
//     nil means an empty environment. EnvVars lists the variables. Values are
//     trimmed of surrounding white space and an empty value counts as unset.
//     A malformed value is an error naming the variable.
//   - override, if not nil, is called once with the configuration so far.
//
// The override sees Profile empty when neither the file nor the environment
// chose one. If it changes the profile, the new profile's preset is taken
// instead and the file, the environment and the fields the override changed
// are applied to it again. That is how an override adopts Detect's profile
// without overruling an explicit one:
//
//	d := cluster.Detect(os.LookupEnv)
//	c, err := cluster.LoadConfig(path, os.LookupEnv, func(c *cluster.Config) {
//		if c.Profile == "" {
//			c.Profile = d.Profile
//		}
//	})
//
// The errors wrap ErrInvalidConfig (every problem found, joined), or
// ErrConfigFile when the file cannot be read. On error the Config is zero.
func LoadConfig(path string, lookupEnv func(string) (string, bool), override func(*Config)) (Config, error) {
	return LoadConfigFor("", path, lookupEnv, override)
}

// LoadConfigFor is LoadConfig with a fallback profile, used when neither the
// file nor FOUNDATION_PROFILE names one: typically Detect's profile. Because
// the fallback chooses the preset before anything is layered on it, options
// in code keep their precedence over every other source.
func LoadConfigFor(fallback Profile, path string, lookupEnv func(string) (string, bool), override func(*Config)) (Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	src := configSource{path: path, lookupEnv: lookupEnv}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("%w: %w", ErrConfigFile, err)
		}
		src.file = data
		// A first pass onto an empty Config finds syntax errors and unknown
		// keys, and the profile the file asks for.
		var fromFile Config
		if err := src.decodeFile(&fromFile); err != nil {
			return Config{}, err
		}
		src.fileProfile = fromFile.Profile
	}
	profile := fallback
	if src.fileProfile != "" {
		profile = src.fileProfile
	}
	if v, ok := lookupConfigEnv(lookupEnv, envProfile); ok {
		profile = Profile(v)
	}

	c, envErr := src.build(profile)
	if override != nil {
		before := c.clone()
		override(&c)
		if c.Profile != before.Profile && Preset(c.Profile).Profile != Preset(before.Profile).Profile {
			c = src.rebase(before, c)
		}
	}
	c = c.WithDefaults()
	if err := errors.Join(envErr, c.Validate()); err != nil {
		return Config{}, err
	}
	return c, nil
}

// build applies the file and the environment to the preset of profile,
// leaving Profile as profile ("" when nobody chose one).
func (s configSource) build(profile Profile) (Config, error) {
	c := Preset(profile)
	c.Profile = profile
	if s.file != nil {
		if err := s.decodeFile(&c); err != nil {
			return Config{}, err // not reached: the first pass decoded the same bytes
		}
	}
	var errs []error
	for _, b := range envBindings() {
		name := b.Name
		v, ok := lookupConfigEnv(s.lookupEnv, name)
		if !ok && b.Fallback != "" {
			name = b.Fallback
			v, ok = lookupConfigEnv(s.lookupEnv, name)
		}
		if !ok {
			continue
		}
		if err := b.set(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %v", ErrInvalidConfig, name, err))
		}
	}
	return c, errors.Join(errs...)
}

// rebase rebuilds the configuration on the preset of after.Profile: file and
// environment again, then every field override changed from before to after.
func (s configSource) rebase(before, after Config) Config {
	c, _ := s.build(after.Profile) // the environment's errors were reported by the first build
	mergeConfigFields(reflect.ValueOf(&c).Elem(), reflect.ValueOf(after), reflect.ValueOf(before),
		func(a, b reflect.Value) bool { return !reflect.DeepEqual(a.Interface(), b.Interface()) })
	return c
}

// decodeFile decodes the file onto c, refusing unknown keys.
func (s configSource) decodeFile(c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(s.file))
	dec.KnownFields(true)
	err := dec.Decode(c)
	if errors.Is(err, io.EOF) {
		return nil // an empty file, or only comments
	}
	if err != nil {
		return s.fileError(err)
	}
	// Only empty documents may follow (a trailing "---" is common).
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return s.fileError(err)
		case len(next.Content) > 0 && next.Content[0].ShortTag() != "!!null":
			return fmt.Errorf("%w: %s: more than one YAML document; want one", ErrInvalidConfig, s.path)
		}
	}
}

// fileError turns a YAML decoding error into errors naming the file, the
// line and, for unknown keys, the key.
func (s configSource) fileError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%w: %s: %v", ErrInvalidConfig, s.path, err)
	}
	sections := map[string]string{}
	configSections(reflect.TypeFor[Config](), "", sections)
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		var line int
		var key, typ string
		if n, _ := fmt.Sscanf(msg, "line %d: field %s not found in type %s", &line, &key, &typ); n == 3 {
			msg = fmt.Sprintf("line %d: unknown key %q", line, sections[typ]+key)
		}
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, s.path, msg))
	}
	return errors.Join(errs...)
}

// configSections maps the type of every section (a struct field, at any
// depth) under t to its dotted key followed by a dot: "split_brain.lease.".
func configSections(t reflect.Type, prefix string, sections map[string]string) {
	for i := range t.NumField() {
		if f := t.Field(i); f.Type.Kind() == reflect.Struct {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" {
				continue
			}
			sections[f.Type.String()] = prefix + name + "."
			configSections(f.Type, prefix+name+".", sections)
		}
	}
}
