package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	certutil "k8s.io/client-go/util/cert"

	streamercmd "github.com/spell-platform/cast-operator/cmd/streamer"
)

const streamerKey = "Deployment/cast-system/cast-operator-streamer"

// sessionKey is a Secret's session-key: 48 bytes, as `openssl rand
// -base64 48` makes it.
var sessionKey = strings.Repeat("s3cr3t-", 10)

// envRef matches the $(VAR) references the kubelet expands in args.
var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// streamerArgs is what the streamer's container would run with: its args
// after the kubelet's $(VAR) expansion from env (values and ConfigMap
// keys, which must exist), with the Secret secretName's mount path
// rewritten to dir, where the Secret's data is written as the kubelet
// would, read-only mount and all. The leading "streamer" is dropped.
func streamerArgs(objs map[string]object, secretName string, data map[string]string, dir string) []string {
	GinkgoHelper()
	d := objs[streamerKey]
	Expect(d).NotTo(BeNil(), "the streamer Deployment")
	c := containers(d)[0].(map[string]any)
	env := map[string]string{}
	envList, _ := c["env"].([]any)
	for _, e := range envList {
		e := e.(map[string]any)
		if v, ok := e["value"].(string); ok {
			env[e["name"].(string)] = v
			continue
		}
		ref := e["valueFrom"].(map[string]any)["configMapKeyRef"].(map[string]any)
		cm := objs["ConfigMap/cast-system/"+ref["name"].(string)]
		Expect(cm).NotTo(BeNil(), "the ConfigMap %s that env %s reads", ref["name"], e["name"])
		v, ok := cm["data"].(map[string]any)[ref["key"].(string)].(string)
		Expect(ok).To(BeTrue(), "the key %s that env %s reads", ref["key"], e["name"])
		env[e["name"].(string)] = v
	}

	var volume string
	pod := d["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	volumes, _ := pod["volumes"].([]any)
	for _, v := range volumes {
		v := v.(map[string]any)
		if s, ok := v["secret"].(map[string]any); ok && s["secretName"] == secretName {
			volume = v["name"].(string)
			Expect(s).NotTo(HaveKey("items"), "the whole Secret is mounted, so its optional keys may be absent")
		}
	}
	Expect(volume).NotTo(BeEmpty(), "a volume of Secret %s", secretName)
	var mountPath string
	mounts, _ := c["volumeMounts"].([]any)
	for _, m := range mounts {
		if m := m.(map[string]any); m["name"] == volume {
			Expect(m).To(HaveKeyWithValue("readOnly", true))
			mountPath = m["mountPath"].(string)
		}
	}
	Expect(mountPath).NotTo(BeEmpty(), "a mount of volume %s", volume)
	for k, v := range data {
		Expect(os.WriteFile(filepath.Join(dir, k), []byte(v), 0o400)).To(Succeed())
	}

	var args []string
	for _, a := range c["args"].([]any)[1:] {
		a := envRef.ReplaceAllStringFunc(a.(string), func(ref string) string {
			v, ok := env[envRef.FindStringSubmatch(ref)[1]]
			Expect(ok).To(BeTrue(), "%s in %q is defined in env", ref, a)
			return v
		})
		args = append(args, strings.ReplaceAll(a, mountPath+"/", dir+"/"))
	}
	return args
}

// validateStreamerFlags checks args as `cast-operator streamer` does
// before it connects anywhere: it reads the files they name.
func validateStreamerFlags(args []string) error {
	fs := flag.NewFlagSet("streamer", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f streamercmd.Flags
	f.Bind(fs, ":8090")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return f.Validate()
}

// oidcArgs are the flags the component's placeholders make, with the
// Secret mounted at dir.
func oidcArgs(dir string) []string {
	return []string{
		"--oidc-issuer-url=https://dex.example.com",
		"--oidc-client-id=cast-dashboard",
		"--oidc-redirect-url=https://cast.example.com/api/v1/oidc/callback",
		"--oidc-scopes=openid,email,groups,offline_access",
		"--session-key-file=" + dir + "/session-key",
		"--oidc-client-secret-file=",
		"--oidc-ca-file=",
	}
}

var _ = Describe("Single sign-on", func() {
	It("with the oidc component, starts the streamer with the ConfigMap's flags and the mounted session key, under Pod Security restricted", func() {
		k, err := overlay(GinkgoT().TempDir(), "oidc")
		Expect(err).NotTo(HaveOccurred())
		objs, err := parseObjects(k)
		Expect(err).NotTo(HaveOccurred())
		dir := GinkgoT().TempDir()
		args := streamerArgs(objs, "cast-operator-streamer-oidc", map[string]string{"session-key": sessionKey}, dir)
		Expect(args).To(Equal(append([]string{"--bind-address=:8090"}, oidcArgs(dir)...)))
		Expect(validateStreamerFlags(args)).To(Succeed())

		By("refusing to start without the Secret's session-key")
		Expect(os.Remove(filepath.Join(dir, "session-key"))).To(Succeed())
		Expect(validateStreamerFlags(args)).To(MatchError(ContainSubstring("--session-key-file")))

		out, err := dryRun(k)
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("configmap/cast-operator-streamer-oidc"))
		Expect(out).To(ContainSubstring("deployment.apps/cast-operator-streamer"))
	})

	It("keeps the oidc and cert-manager components' volumes in either order", func() {
		for _, order := range [][]string{{"oidc", "cert-manager"}, {"cert-manager", "oidc"}} {
			k, err := overlay(GinkgoT().TempDir(), order...)
			Expect(err).NotTo(HaveOccurred())
			objs, err := parseObjects(k)
			Expect(err).NotTo(HaveOccurred())
			d := objs[streamerKey]
			var mounts, volumes []string
			for _, m := range containers(d)[0].(map[string]any)["volumeMounts"].([]any) {
				mounts = append(mounts, m.(map[string]any)["mountPath"].(string))
			}
			for _, v := range d["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["volumes"].([]any) {
				volumes = append(volumes, v.(map[string]any)["secret"].(map[string]any)["secretName"].(string))
			}
			Expect(mounts).To(ConsistOf("/etc/cast-operator/oidc", "/etc/cast-operator/tls"), "%v", order)
			Expect(volumes).To(ConsistOf("cast-operator-streamer-oidc", "cast-operator-streamer-tls"), "%v", order)
		}
	})

	It("with the network-policy component before it, lets the streamer reach the provider", func() {
		k, err := overlay(GinkgoT().TempDir(), "network-policy", "oidc")
		Expect(err).NotTo(HaveOccurred())
		objs, err := parseObjects(k)
		Expect(err).NotTo(HaveOccurred())
		egress := objs["NetworkPolicy/cast-system/cast-operator-streamer"]["spec"].(map[string]any)["egress"].([]any)
		Expect(egress).To(ContainElement(map[string]any{"ports": []any{map[string]any{"protocol": "TCP", "port": float64(443)}}}))
	})

	It("with streamer.oidc, starts the streamer as the component does", func() {
		rendered, err := renderChart(allOptional)
		Expect(err).NotTo(HaveOccurred())
		objs, err := parseObjects(rendered)
		Expect(err).NotTo(HaveOccurred())
		dir := GinkgoT().TempDir()
		args := streamerArgs(objs, "cast-operator-streamer-oidc", map[string]string{"session-key": sessionKey}, dir)
		Expect(args).To(ContainElements(oidcArgs(dir)))
		Expect(validateStreamerFlags(args)).To(Succeed())
	})

	It("with streamer.oidc, runs a confidential client with a private CA from an existing Secret, rolls the pods when the settings change, and passes a server-side dry run", func() {
		values := `
networkPolicy: {enabled: true}
streamer:
  oidc:
    enabled: true
    issuerURL: https://idp.example.com:8443/realms/ci
    clientID: casts
    redirectURL: https://casts.example.org/api/v1/oidc/callback
    existingSecret: casts-sso
    secretKeys: {sessionKey: cookie-key, clientSecret: client-secret, caCert: ca.crt}
`
		rendered, err := renderChart(values)
		Expect(err).NotTo(HaveOccurred())
		objs, err := parseObjects(rendered)
		Expect(err).NotTo(HaveOccurred())
		ca, _, err := certutil.GenerateSelfSignedCertKey("idp.example.com", nil, nil)
		Expect(err).NotTo(HaveOccurred())
		dir := GinkgoT().TempDir()
		args := streamerArgs(objs, "casts-sso", map[string]string{"cookie-key": sessionKey, "client-secret": "hush", "ca.crt": string(ca)}, dir)
		Expect(args).To(ContainElements(
			"--oidc-issuer-url=https://idp.example.com:8443/realms/ci",
			"--oidc-client-id=casts",
			"--oidc-redirect-url=https://casts.example.org/api/v1/oidc/callback",
			"--oidc-scopes=", // the streamer's default scopes
			"--session-key-file="+dir+"/cookie-key",
			"--oidc-client-secret-file="+dir+"/client-secret",
			"--oidc-ca-file="+dir+"/ca.crt",
		))
		Expect(validateStreamerFlags(args)).To(Succeed())

		egress := objs["NetworkPolicy/cast-system/cast-operator-streamer"]["spec"].(map[string]any)["egress"].([]any)
		Expect(egress).To(ContainElement(map[string]any{"ports": []any{map[string]any{"protocol": "TCP", "port": float64(8443)}}}),
			"the streamer may reach the provider on the issuer URL's port")

		podAnnotations := func(objs map[string]object) map[string]any {
			return objs[streamerKey]["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)["annotations"].(map[string]any)
		}
		changed, err := renderChart(strings.Replace(values, "clientID: casts", "clientID: casts-2", 1))
		Expect(err).NotTo(HaveOccurred())
		changedObjs, err := parseObjects(changed)
		Expect(err).NotTo(HaveOccurred())
		Expect(podAnnotations(objs)).To(HaveKey("checksum/oidc"))
		Expect(podAnnotations(changedObjs)["checksum/oidc"]).NotTo(Equal(podAnnotations(objs)["checksum/oidc"]))

		out, err := dryRun(rendered)
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("configmap/cast-operator-streamer-oidc"))
	})
})
