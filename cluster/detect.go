package cluster

import "fmt"

// Detection is what Detect concluded about the environment a member runs
// in, and why.
type Detection struct {
	// Profile is the profile the environment suggests.
	Profile Profile
	// Provider is the discovery provider the environment suggests, never
	// auto: static, mdns, consul, k8s (or kubernetes), dns or etcd.
	Provider string
	// Reasons explain Profile and Provider, one sentence each, e.g.
	// "KUBERNETES_SERVICE_HOST is set: running in Kubernetes".
	Reasons []string
}

// Detect inspects the environment through lookupEnv (os.LookupEnv in
// production, a fake in tests; nil means an empty environment) and suggests
// a profile and a discovery provider. The first signal found decides:
//
//	KUBERNETES_SERVICE_HOST                          production, k8s
//	CONSUL_HTTP_ADDR                                 production, consul
//	FOUNDATION_DNS_NAME                              production, dns
//	ETCD_ENDPOINTS or FOUNDATION_ETCD_ENDPOINTS      production, etcd
//	FOUNDATION_SEEDS                                 development, static
//	nothing                                          development, mdns
//
// FOUNDATION_PROFILE and FOUNDATION_PROVIDER, when set (and the provider is
// not auto), win over what was detected, and the reasons say so. An empty
// variable counts as unset. Detect only reads; it never fails: an unknown
// explicit value is passed through for Validate to report.
func Detect(lookupEnv func(string) (string, bool)) Detection {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	d := detectEnvironment(lookupEnv)

	var explicit []string
	profile, hasProfile := lookupConfigEnv(lookupEnv, envProfile)
	if hasProfile {
		explicit = append(explicit, fmt.Sprintf("%s=%s: profile set explicitly (detected: %s)", envProfile, profile, d.Profile))
		d.Profile = Profile(profile)
	}
	provider, hasProvider := lookupConfigEnv(lookupEnv, envProvider)
	hasProvider = hasProvider && provider != ProviderAuto
	if hasProvider {
		explicit = append(explicit, fmt.Sprintf("%s=%s: provider set explicitly (detected: %s)", envProvider, provider, d.Provider))
		d.Provider = provider
	}
	if hasProfile && hasProvider {
		d.Reasons = explicit // the environment decided nothing
	} else {
		d.Reasons = append(d.Reasons, explicit...)
	}
	return d
}

// detectEnvironment applies Detect's table, ignoring explicit settings.
func detectEnvironment(lookupEnv func(string) (string, bool)) Detection {
	found := func(name string) bool {
		_, ok := lookupConfigEnv(lookupEnv, name)
		return ok
	}
	switch {
	case found(envKubernetes):
		return Detection{ProfileProduction, ProviderKubernetes,
			[]string{envKubernetes + " is set: running in Kubernetes"}}
	case found(envStdConsulAddress):
		return Detection{ProfileProduction, ProviderConsul,
			[]string{envStdConsulAddress + " is set: a Consul agent is available"}}
	case found(envDNSName):
		return Detection{ProfileProduction, ProviderDNS,
			[]string{envDNSName + " is set: members are found by DNS"}}
	case found(envStdEtcdEndpoints):
		return Detection{ProfileProduction, ProviderEtcd,
			[]string{envStdEtcdEndpoints + " is set: members are found through etcd"}}
	case found(envEtcdEndpoints):
		return Detection{ProfileProduction, ProviderEtcd,
			[]string{envEtcdEndpoints + " is set: members are found through etcd"}}
	case found(envSeeds):
		return Detection{ProfileDevelopment, ProviderStatic,
			[]string{envSeeds + " is set: a static seed list"}}
	}
	return Detection{ProfileDevelopment, ProviderMDNS,
		[]string{"nothing detected: development profile, zero-config mDNS"}}
}
