// istio-validate: runs istiod's own validation (the one its config-source store applies to every
// object it receives) on objects read as JSON lines from stdin, and writes one JSON line per
// object: {"name": ..., "kind": ..., "error": "..."} with an empty error when istiod accepts it.
// Built inside the istio.io/istio module by provision.sh; used by the fuzz suite.
package main

import (
	"bufio"
	"encoding/json"
	"os"

	"google.golang.org/protobuf/proto"

	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/schema/gvk"
	"istio.io/istio/pkg/util/protomarshal"
)

type object struct {
	Kind        string            `json:"kind"`
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Spec        json.RawMessage   `json:"spec"`
}

type result struct {
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Error string `json:"error"`
}

var kinds = map[string]config.GroupVersionKind{
	"ServiceEntry":    gvk.ServiceEntry,
	"WorkloadEntry":   gvk.WorkloadEntry,
	"DestinationRule": gvk.DestinationRule,
	"VirtualService":  gvk.VirtualService,
}

func validate(o object) string {
	k, ok := kinds[o.Kind]
	if !ok {
		return "unknown kind " + o.Kind
	}
	s, ok := collections.All.FindByGroupVersionKind(k)
	if !ok {
		return "no schema for " + o.Kind
	}
	spec, err := s.NewInstance()
	if err != nil {
		return err.Error()
	}
	// Strict: a field istiod does not know would be dropped by its decoder; we want to hear of it.
	if err := protomarshal.ApplyJSONStrict(string(o.Spec), spec.(proto.Message)); err != nil {
		return "decode: " + err.Error()
	}
	cfg := config.Config{
		Meta: config.Meta{GroupVersionKind: k, Name: o.Name, Namespace: o.Namespace, Labels: o.Labels, Annotations: o.Annotations},
		Spec: spec,
	}
	if _, err := s.ValidateConfig(cfg); err != nil {
		return err.Error()
	}
	return ""
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 256<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for in.Scan() {
		var o object
		if err := json.Unmarshal(in.Bytes(), &o); err != nil {
			_ = enc.Encode(result{Error: "input: " + err.Error()})
			continue
		}
		_ = enc.Encode(result{Kind: o.Kind, Name: o.Name, Error: validate(o)})
	}
	if err := in.Err(); err != nil {
		_ = enc.Encode(result{Error: "input: " + err.Error()})
	}
}
