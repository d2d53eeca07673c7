package k8s

import (
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	pods               = schema.GroupResource{Resource: "pods"}
	errTooManyRequests = apierrors.NewTooManyRequests("slow down", 1)
	errForbidden       = apierrors.NewForbidden(pods, "", nil)
	errGone            = apierrors.NewGone("too old resource version")
	errExpired         = apierrors.NewResourceExpired("resource version expired")
	errBadRequest      = apierrors.NewBadRequest("no")
	errTooLarge        = &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 504, Reason: metav1.StatusReasonTimeout,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge}}},
	}}
)
