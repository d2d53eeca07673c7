// Package k8stest helps test code that discovers members with package
// provider/k8s against client-go's fake clientset: Pod builds the pod of a
// member, and Clientset is a fake clientset whose pod watches can be
// counted, awaited and ended.
//
// Clientset gives pods resource versions and starts each watch where the
// informer's list ended, so changes made at any time after NewClientset are
// all seen: no test needs to wait for the informer's watch before changing
// pods (WaitWatches is for tests about watches themselves).
package k8stest
