package telemetry_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/foundation-go/foundation/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  telemetry.Config
		want string // "" valid
	}{
		{"zero", telemetry.Config{}, ""},
		{"full", telemetry.Config{Address: "127.0.0.1:0", Metrics: true, Tracing: telemetry.TracingOn, SampleRatio: 0.5}, ""},
		{"address", telemetry.Config{Address: "127.0.0.1"}, "Address"},
		{"port", telemetry.Config{Address: "127.0.0.1:70000"}, "Address"},
		{"host", telemetry.Config{Address: "example.com:80"}, "Address"},
		{"tracing", telemetry.Config{Tracing: 9}, "Tracing"},
		{"ratio", telemetry.Config{SampleRatio: 1.5}, "SampleRatio"},
		{"ratio NaN", telemetry.Config{SampleRatio: math.NaN()}, "SampleRatio"},
		{"recorder", telemetry.Config{RecorderSize: -1}, "RecorderSize"},
		{"expected", telemetry.Config{ExpectedMembers: -1}, "ExpectedMembers"},
		{"advisor", telemetry.Config{Advisor: 7}, "Advisor"},
		{"sample every", telemetry.Config{SampleEvery: -1}, "SampleEvery"},
	} {
		err := c.cfg.Validate()
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, telemetry.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", c.name, err)
		} else if got := err.Error(); !strings.Contains(got, c.want) {
			t.Errorf("%s: %q does not name %s", c.name, got, c.want)
		}
		if _, err := telemetry.New(c.cfg); !errors.Is(err, telemetry.ErrInvalidConfig) {
			t.Errorf("%s: New: %v, want ErrInvalidConfig", c.name, err)
		}
	}
	if _, err := telemetry.ParseTracing("always"); !errors.Is(err, telemetry.ErrInvalidConfig) {
		t.Errorf("ParseTracing: %v", err)
	}
	if _, err := telemetry.ParseAdvisor("auto"); !errors.Is(err, telemetry.ErrInvalidConfig) {
		t.Errorf("ParseAdvisor: %v", err)
	}
}

func ExampleConfig_Validate() {
	err := telemetry.Config{Address: "127.0.0.1:9100", SampleRatio: 2}.Validate()
	fmt.Println(errors.Is(err, telemetry.ErrInvalidConfig))
	fmt.Println(err)
	// Output:
	// true
	// telemetry: invalid config: SampleRatio: 2 must be in 0..1
}
