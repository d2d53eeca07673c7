// Package errs holds error helpers shared by Foundation's packages.
package errs

// Flatten returns the errors an errors.Join (or any error with Unwrap()
// []error) holds, joined ones flattened in order; err itself otherwise.
func Flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Flatten(e)...)
		}
		return out
	}
	return []error{err}
}
