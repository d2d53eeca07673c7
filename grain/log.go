package grain

import "go.uber.org/zap"

func zapErr(err error) zap.Field     { return zap.Error(err) }
func zapAddr(a string) zap.Field     { return zap.String("address", a) }
func zapKind(k, id string) zap.Field { return zap.String("grain", k+"/"+id) }
