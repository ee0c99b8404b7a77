package dia;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.apache.dubbo.config.ApplicationConfig;
import org.apache.dubbo.config.MetadataReportConfig;
import org.apache.dubbo.config.ProtocolConfig;
import org.apache.dubbo.config.RegistryConfig;
import org.apache.dubbo.config.ServiceConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;

/**
 * A real Dubbo provider, started by the suites as a process of its own, configured through the
 * plain Dubbo API exactly as an application would. Arguments are key=value:
 *
 *   registry=zookeeper://127.0.0.1:PORT   where it registers
 *   host=198.18.0.2                       the address it binds and registers (a test host)
 *   protocols=dubbo:20880,tri:50051       protocol:port, each bound on host
 *   services=1.0.0,2.0.0:g1               version[:group] of GreetingService to export
 *   application=greeting-provider         the Dubbo application name
 *   register-mode=all                     interface, instance or all (Dubbo's default)
 *   tag=gray                              a static tag (ProviderConfig/ServiceConfig.setTag)
 *   mesh=true                             registers with the parameter mesh=true, as a sidecar
 *                                         re-registering its workload does
 *   params=env:blue;zone:zone-a           more URL parameters of every service (labels)
 *   metadata=remote                       metadata-type remote: the metadata document goes to the
 *                                         registry's metadata report (default: local, served by
 *                                         the provider's MetadataService only)
 *
 * It prints "ready" once every service is exported and registered, and runs until killed.
 */
public class Provider {
    public static void main(String[] args) throws Exception {
        Map<String, String> o = new HashMap<>();
        for (String a : args) {
            int eq = a.indexOf('=');
            o.put(a.substring(0, eq), a.substring(eq + 1));
        }
        String host = o.getOrDefault("host", "127.0.0.1");

        ApplicationConfig app = new ApplicationConfig(o.getOrDefault("application", "greeting-provider"));
        app.setQosEnable(false); // its QoS server would listen on 0.0.0.0:22222
        app.setRegisterMode(o.getOrDefault("register-mode", "all"));
        boolean remoteMetadata = "remote".equals(o.get("metadata"));
        if (remoteMetadata) app.setMetadataType("remote");

        List<ProtocolConfig> protocols = new ArrayList<>();
        for (String p : o.getOrDefault("protocols", "dubbo:20880").split(",")) {
            String[] np = p.split(":");
            ProtocolConfig pc = new ProtocolConfig(np[0], Integer.parseInt(np[1]));
            pc.setHost(host); // and DUBBO_IP_TO_BIND / DUBBO_IP_TO_REGISTRY, set by the suites
            protocols.add(pc);
        }

        DubboBootstrap bootstrap = DubboBootstrap.getInstance()
                .application(app)
                .registry(new RegistryConfig(o.get("registry")))
                .protocols(protocols);
        if (remoteMetadata) bootstrap.metadataReport(new MetadataReportConfig(o.get("registry")));
        for (String s : o.getOrDefault("services", "1.0.0").split(",")) {
            String[] vg = s.split(":");
            ServiceConfig<GreetingService> sc = new ServiceConfig<>();
            sc.setInterface(GreetingService.class);
            String version = vg[0];
            // The answer says who answered: a traffic test counts where its calls went.
            String identity = "version=" + version + " host=" + host + (o.containsKey("params") ? " " + o.get("params").replace(':', '=').replace(';', ' ') : "");
            sc.setRef(name -> "hello " + name + " from " + identity);
            sc.setVersion(version);
            if (vg.length > 1) sc.setGroup(vg[1]);
            if (o.containsKey("tag")) sc.setTag(o.get("tag"));
            Map<String, String> params = new HashMap<>();
            if (o.containsKey("mesh")) params.put("mesh", o.get("mesh"));
            if (o.containsKey("params")) {
                for (String kv : o.get("params").split(";")) params.put(kv.substring(0, kv.indexOf(':')), kv.substring(kv.indexOf(':') + 1));
            }
            if (!params.isEmpty()) sc.setParameters(params);
            sc.setProtocols(protocols);
            bootstrap.service(sc);
        }
        bootstrap.start();
        System.out.println("ready");
        System.out.flush();
        new CountDownLatch(1).await();
    }
}
