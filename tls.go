package foundation

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
)

// remoteTLS turns the TLS file paths into mutual-TLS options for remoting:
// the listener requires and verifies a client certificate signed by the CA,
// and dials verify the peer against the same CA.
func remoteTLS(c cluster.TLSConfig) ([]actor.Option, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("foundation: tls.cert_file/tls.key_file: %w", err)
	}
	caPEM, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("foundation: tls.ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("foundation: tls.ca_file %s: no PEM certificate found", c.CAFile)
	}
	server := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	client := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
	}
	return []actor.Option{
		actor.WithRemoteServerOptions(grpc.Creds(credentials.NewTLS(server))),
		actor.WithRemoteDialOptions(grpc.WithTransportCredentials(credentials.NewTLS(client))),
	}, nil
}
