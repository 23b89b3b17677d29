// ecr-registry: the stand-in's ECR registry for OCI charts.
//
// go-containerregistry's in-memory OCI registry (pkg/registry), served over TLS with a
// certificate for the ECR registry's own host name (<account>.dkr.ecr.<region>.amazonaws.com),
// behind the basic auth that ECR's GetAuthorizationToken hands out (user AWS and moto's
// password). An HTTP CONNECT proxy routes that host's port 443 to it, so helm, given
// HTTPS_PROXY and the stand-in's CA, reaches "ECR" by its real name, as it would on AWS.
package main

import (
	"crypto/subtle"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	registryAddr := flag.String("registry-listen", "127.0.0.1:0", "address of the TLS registry")
	proxyAddr := flag.String("proxy-listen", "127.0.0.1:0", "address of the CONNECT proxy")
	host := flag.String("host", "", "the registry host name the proxy routes (port 443), e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com")
	certFile := flag.String("tls-cert-file", "", "serving certificate for -host")
	keyFile := flag.String("tls-private-key-file", "", "its key")
	user := flag.String("user", "AWS", "basic auth user")
	password := flag.String("password", "", "basic auth password")
	flag.Parse()
	if *host == "" || *certFile == "" || *keyFile == "" || *password == "" {
		log.Fatal("-host, -tls-cert-file, -tls-private-key-file and -password are required")
	}

	var refused atomic.Int64
	reg := registry.New(registry.Logger(log.New(os.Stderr, "registry: ", log.LstdFlags)))
	authed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_stand-in/refused" { // how many requests lacked the credentials
			fmt.Fprintf(w, "%d\n", refused.Load())
			return
		}
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(*user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(*password)) != 1 {
			refused.Add(1)
			log.Printf("refused %s %s: no or wrong basic auth", r.Method, r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Basic realm="ecr"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		reg.ServeHTTP(w, r)
	})

	regLn, err := net.Listen("tcp", *registryAddr)
	if err != nil {
		log.Fatal(err)
	}
	proxyLn, err := net.Listen("tcp", *proxyAddr)
	if err != nil {
		log.Fatal(err)
	}
	target := *host + ":443"
	proxy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "only CONNECT", http.StatusMethodNotAllowed)
			return
		}
		if r.Host != target {
			log.Printf("proxy: refused CONNECT %s (routes only %s)", r.Host, target)
			http.Error(w, "this proxy routes only "+target, http.StatusForbidden)
			return
		}
		upstream, err := net.DialTimeout("tcp", regLn.Addr().String(), 5*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			upstream.Close()
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() {
			// Bytes the client sent after its CONNECT request, then the rest.
			if n := buf.Reader.Buffered(); n > 0 {
				b, _ := buf.Reader.Peek(n)
				upstream.Write(b)
			}
			io.Copy(upstream, conn)
			upstream.Close()
		}()
		io.Copy(conn, upstream)
		conn.Close()
	})

	log.Printf("registry %s (TLS, as %s), CONNECT proxy %s", regLn.Addr(), *host, proxyLn.Addr())
	errs := make(chan error, 2)
	go func() {
		s := &http.Server{Handler: authed, ReadHeaderTimeout: 10 * time.Second}
		errs <- s.ServeTLS(regLn, *certFile, *keyFile)
	}()
	go func() {
		s := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
		errs <- s.Serve(proxyLn)
	}()
	log.Fatal(<-errs)
}
