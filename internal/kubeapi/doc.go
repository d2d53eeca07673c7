// Package kubeapi runs a real Kubernetes API server for tests: the
// kube-apiserver and the etcd it stores in, both built from the nested
// module tools/kubeapi (`make kubeapi`, into .bin/kubeapi; see
// tools/kubeapi/build.sh), listening on 127.0.0.1 only, on free ports, with
// a data directory of their own. There is no kubelet, scheduler or
// controller manager: pods stay Pending without an IP until a test writes
// their status (SetPodStatus), and a pod with a node name that is deleted
// gracefully stays Terminating until it is deleted with a zero grace
// period.
//
// Start(t) starts a server for one test and stops it when the test ends;
// Shared(t) starts one server for every test of the test binary, which
// Main (the TestMain of a package using it) stops before checking for
// leaked goroutines. Both skip the test with a message naming the harness
// when the binaries are not built, and fail it instead when the CI
// environment variable is set (.ci/run builds them).
//
// Tests reach the server with Server.Config (a rest.Config authenticated
// as a member of system:masters) or through the kubeconfig file
// Server.Kubeconfig; processes a test starts are given that file in the
// variable k8s.EnvKubeconfig (FOUNDATION_KUBECONFIG). Nothing here reads
// KUBECONFIG or ~/.kube, so a developer's clusters are never touched.
// Client builds a clientset whose connections go through a Dialer, which
// can cut them or refuse new ones, and which closes them when the test
// ends.
//
// Readiness is polled (the API server's /readyz, etcd's /health) with a
// deadline; no function of this package sleeps for a fixed time.
package kubeapi
