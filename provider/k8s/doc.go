// Package k8s is a discovery back-end for members running as Kubernetes
// pods: the members are the Running and Ready pods that a label selector
// picks in one namespace, watched through the API server.
//
// # The readiness probe is the announcement
//
// The provider announces nothing and withdraws nothing. A pod becomes a
// member when Kubernetes reports it Running and Ready — that is, when its
// readinessProbe passes — with a pod IP, and stops being one when it turns
// not ready, starts terminating (its deletion timestamp is set) or is
// deleted. So the Deployment's readinessProbe is what makes a member join:
// probe the member's port (a tcpSocket probe on the container port named
// Config.PortName), and do not make readiness wait for the cluster to form,
// or the first pods would never see each other. examples/k8s in the
// repository has a Deployment, a headless Service and the RBAC rules.
//
// # What a member looks like
//
// A pod's member has:
//
//	ID       the pod's UID (a restarted container keeps it; a new pod does not)
//	Address  podIP:port, the port being the containerPort named Config.PortName,
//	         or, with PortName empty, the port of the self.Address given to Start
//	Cluster  annotation foundation.io/cluster, else the label of that key
//	Kinds    annotation foundation.io/kinds, comma-separated
//	Version  annotation foundation.io/version, else the label of that key
//
// Fields without an annotation are empty; the cluster layer learns them in
// its join handshake. A ready pod without a container port of that name is
// skipped and logged once. This member's own pod is reported like any other;
// the cluster layer recognises it by its address.
//
// # Watching
//
// Start runs a client-go informer (a list, then a watch, of the selected
// pods; the informer watches again when a watch ends and lists again when
// its resource version expires or was compacted away) and waits for the
// first list and the watch that follows it, up to Config.StartTimeout. A list or watch call that fails for a reason that
// may pass (the API server unreachable or overloaded, RBAC not yet granted)
// is repeated after Config.RetryMin, doubled up to Config.RetryMax; an
// outage is logged once as a warning when it starts and once when it ends.
// After every change the member set is computed again from the informer's
// store, so changes arriving together (several pods deleted at once) are all
// in the next update, and update is called only when the set differs.
//
// The pod's service account needs list and watch on pods in the
// namespace, nothing else (examples/k8s/rbac.yaml); without either, Start
// fails with the API server's refusal, which names the verb.
//
// # Goroutines
//
// A started Provider owns the informer's goroutines and one that calls
// update. Stop ends them and waits for them and for any API call in
// flight. Use InClusterClient for Config.Client in a pod (outside one, for
// tests and development, it reads the kubeconfig file named by
// FOUNDATION_KUBECONFIG). The package's tests run against client-go's fake
// clientset through package k8stest, and against a real kube-apiserver
// (the repository's internal/kubeapi harness).
package k8s
