package castcli

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/spell-platform/cast-operator/cmd/internal/kubecred"
	"github.com/spell-platform/cast-operator/cmd/watch"
)

// StreamerExtension names the kubeconfig cluster extension that says where
// the cluster's streamer is:
//
//	clusters:
//	- name: prod
//	  cluster:
//	    server: https://api.prod.example.com
//	    extensions:
//	    - name: cast.spell.dev/streamer
//	      extension:
//	        server: https://cast.prod.example.com
//	        certificate-authority-data: BASE64-PEM
const StreamerExtension = "cast.spell.dev/streamer"

// streamerExtension is the extension's content.
type streamerExtension struct {
	Server                   string `json:"server"`
	CertificateAuthorityData []byte `json:"certificate-authority-data"`
}

// streamerTarget is how to reach the streamer and as whom.
type streamerTarget struct {
	server      string
	httpClient  *http.Client
	tokenFunc   func() (string, error)
	tokenSource string
}

// streamer resolves the URL (--server, $CAST_STREAMER, the extension, the
// default), the CA (--streamer-ca-file, the extension) and the token
// (--token-file, else the kubeconfig user's bearer token through
// client-go's credential plugins).
func (o *options) streamer(f watchFlags) (streamerTarget, error) {
	var t streamerTarget
	ext, user, err := o.kubeconfigStreamer()
	if err != nil && f.tokenFile == "" {
		return t, err
	}
	t.server = firstNonEmpty(f.server, os.Getenv("CAST_STREAMER"), ext.Server, watch.DefaultStreamer)
	ca := ext.CertificateAuthorityData
	if f.caFile != "" {
		if ca, err = os.ReadFile(f.caFile); err != nil {
			return t, fmt.Errorf("--streamer-ca-file: %w", err)
		}
	}
	if len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return t, errors.New("the streamer's CA holds no PEM certificate")
		}
		t.httpClient = httpClient(pool)
	}
	if f.tokenFile != "" {
		t.tokenSource = "--token-file " + f.tokenFile
		t.tokenFunc = watch.ReadTokenFile(f.tokenFile)
		_, err := t.tokenFunc()
		return t, err
	}
	rc, err := o.flags.ToRESTConfig()
	if err != nil {
		return t, fmt.Errorf("no --token-file, and the kubeconfig is not usable: %w", err)
	}
	t.tokenSource = fmt.Sprintf("kubeconfig user %q", user)
	t.tokenFunc, err = kubecred.TokenFunc(rc)
	return t, err
}

// kubeconfigStreamer reads the streamer extension of the cluster the
// current context (or --context, --cluster) points to, and the user's name.
func (o *options) kubeconfigStreamer() (streamerExtension, string, error) {
	var ext streamerExtension
	raw, err := o.flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return ext, "", fmt.Errorf("reading the kubeconfig: %w", err)
	}
	ctxName := raw.CurrentContext
	if o.flags.Context != nil && *o.flags.Context != "" {
		ctxName = *o.flags.Context
	}
	kctx := raw.Contexts[ctxName]
	if kctx == nil {
		return ext, "", fmt.Errorf("the kubeconfig has no context %q: pass --token-file with a bearer token, or --context", ctxName)
	}
	clusterName, user := kctx.Cluster, kctx.AuthInfo
	if o.flags.ClusterName != nil && *o.flags.ClusterName != "" {
		clusterName = *o.flags.ClusterName
	}
	if o.flags.AuthInfoName != nil && *o.flags.AuthInfoName != "" {
		user = *o.flags.AuthInfoName
	}
	if cl := raw.Clusters[clusterName]; cl != nil {
		ext, err = decodeExtension(cl)
	}
	return ext, user, err
}

func decodeExtension(cl *clientcmdapi.Cluster) (streamerExtension, error) {
	var ext streamerExtension
	obj, ok := cl.Extensions[StreamerExtension]
	if !ok {
		return ext, nil
	}
	u, ok := obj.(*runtime.Unknown)
	if !ok {
		return ext, fmt.Errorf("the kubeconfig extension %s is a %T, want an object with server and certificate-authority-data", StreamerExtension, obj)
	}
	if err := json.Unmarshal(u.Raw, &ext); err != nil {
		return ext, fmt.Errorf("the kubeconfig extension %s: %w", StreamerExtension, err)
	}
	return ext, nil
}

// httpClient trusts pool for the streamer; like the client's default, it
// has no overall timeout, as streams stay open for minutes.
func httpClient(pool *x509.CertPool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ResponseHeaderTimeout = 30 * time.Second
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
