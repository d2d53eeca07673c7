package telemetry

import "go.uber.org/zap"

func zapPeer(id string) zap.Field { return zap.String("peer", id) }

func zapErr(err error) zap.Field { return zap.Error(err) }
