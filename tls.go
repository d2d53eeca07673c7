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

// mutualTLS loads the TLS files into one configuration that serves both
// ends of a connection: it presents the member's certificate, requires and
// verifies a client certificate signed by the CA when listening, and
// verifies the peer against the same CA when dialling.
func mutualTLS(c cluster.TLSConfig) (*tls.Config, error) {
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
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		RootCAs:      pool,
	}, nil
}

// remoteTLS turns a mutual-TLS configuration into options for remoting.
func remoteTLS(c *tls.Config) []actor.Option {
	return []actor.Option{
		actor.WithRemoteServerCredentials(credentials.NewTLS(c.Clone())),
		actor.WithRemoteDialOptions(grpc.WithTransportCredentials(credentials.NewTLS(c.Clone()))),
	}
}
