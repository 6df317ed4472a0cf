package castcli

// The auth-provider plugins kubectl links (oidc), so a kubeconfig written
// for kubectl works here too: client-go finds them by name.
import _ "k8s.io/client-go/plugin/pkg/client/auth"
