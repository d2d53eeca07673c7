package provider_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/consul"
	"github.com/foundation-go/foundation/provider/dns"
	"github.com/foundation-go/foundation/provider/etcd"
	"github.com/foundation-go/foundation/provider/k8s"
	"github.com/foundation-go/foundation/provider/mdns"
)

func TestFieldError(t *testing.T) {
	a := &provider.FieldError{Provider: "x", Field: "TTL", Key: "ttl", Problem: "1ms: want at least 1s"}
	b := &provider.FieldError{Provider: "x", Field: "Name", Key: "name", Missing: true, Problem: "is empty: want a name"}
	if got, want := a.Error(), "provider: invalid configuration: x: Config.TTL 1ms: want at least 1s"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(a, provider.ErrInvalidConfig) {
		t.Error("a FieldError does not wrap ErrInvalidConfig")
	}
	for _, tc := range []struct {
		name string
		err  error
		want []*provider.FieldError
	}{
		{"nil", nil, nil},
		{"other", errors.New("other"), nil},
		{"one", a, []*provider.FieldError{a}},
		{"wrapped", fmt.Errorf("context: %w", a), []*provider.FieldError{a}},
		{"joined", errors.Join(a, errors.New("other"), errors.Join(b)), []*provider.FieldError{a, b}},
	} {
		if got := provider.FieldErrors(tc.err); !slices.Equal(got, tc.want) {
			t.Errorf("%s: FieldErrors = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Every back-end's Validate reports every problem, each naming its field and
// the field's YAML key, which is the field's yaml tag (empty for a field
// set only in code), and marking missing required fields.
func TestConfigValidateReportsEveryField(t *testing.T) {
	type problem struct {
		field, key string
		missing    bool
	}
	for _, tc := range []struct {
		name string
		cfg  interface{ Validate() error }
		want []problem
	}{
		{"mdns", mdns.Config{Service: "x", Interfaces: []string{"lo", ""}, AnnounceInterval: time.Millisecond}, []problem{
			{"Service", "service", false}, {"Interfaces[1]", "interfaces[1]", false}, {"AnnounceInterval", "announce_interval", false}}},
		{"mdns expiry", mdns.Config{ExpireAfter: time.Second}, []problem{{"ExpireAfter", "expire_after", false}}},
		{"consul empty", consul.Config{}, []problem{{"Address", "address", true}, {"Service", "service", true}}},
		{"consul", consul.Config{Address: "agent", Service: "shop", TTL: time.Millisecond, DeregisterAfter: time.Second, RetryMin: -1}, []problem{
			{"Address", "address", false}, {"TTL", "ttl", false}, {"DeregisterAfter", "deregister_after", false}, {"RetryMin", "", false}}},
		{"k8s empty", k8s.Config{}, []problem{{"Client", "", true}, {"LabelSelector", "label_selector", true}}},
		{"k8s", k8s.Config{Client: fake.NewSimpleClientset(), Namespace: "A_B", LabelSelector: "app in (", PortName: "Port_Name", StartTimeout: -1}, []problem{
			{"Namespace", "namespace", false}, {"LabelSelector", "label_selector", false}, {"PortName", "port_name", false}, {"StartTimeout", "", false}}},
		{"dns", dns.Config{Port: 70000, Interval: time.Microsecond, Servers: []string{"10.0.0.1:53", "resolver"}}, []problem{
			{"Name", "name", true}, {"Port", "port", false}, {"Interval", "interval", false}, {"Servers[1]", "servers[1]", false}}},
		{"etcd", etcd.Config{Endpoints: []string{"http://e:2379", ""}, LeaseTTL: 1500 * time.Millisecond, DialTimeout: time.Hour}, []problem{
			{"Endpoints[1]", "endpoints[1]", false}, {"LeaseTTL", "lease_ttl", false}, {"DialTimeout", "", false}}},
		{"etcd empty", etcd.Config{}, []problem{{"Endpoints", "endpoints", true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, provider.ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
			}
			var got []problem
			for _, fe := range provider.FieldErrors(err) {
				got = append(got, problem{fe.Field, fe.Key, fe.Missing})
				if !strings.Contains(err.Error(), fe.Error()) {
					t.Errorf("the joined error does not contain %q", fe)
				}
				name, _, _ := strings.Cut(fe.Field, "[")
				f, ok := reflect.TypeOf(tc.cfg).FieldByName(name)
				if !ok {
					t.Errorf("%s: no field %s", tc.name, name)
					continue
				}
				tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				if key, _, _ := strings.Cut(fe.Key, "["); key != tag && !(key == "" && tag == "-") {
					t.Errorf("%s: key %q; the field's yaml tag is %q", fe.Field, fe.Key, tag)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems %v\nwant %v\n%v", got, tc.want, err)
			}
		})
	}
}
