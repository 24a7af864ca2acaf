package io.dbrollback.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.management.OperatingSystemMXBean;
import io.dbrollback.testing.MockApiServer;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.javaoperatorsdk.operator.Operator;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;

/**
 * The operator of the scale run ({@link ScaleBench}) in its own JVM, so that its heap, RSS and CPU are
 * the operator's alone: the same JOSDK operator as the latency run ({@link LatencyBench#startOperator},
 * {@code RollbackReconciler} over the production {@code ClusterStepFactory}, the deployed pacing),
 * talking to the parent's mock API server at {@code URL}. Everything else it needs is in the API
 * server: each pod's agent port (the nodes run in the parent) and pod exec (run by the parent's mock).
 *
 * <p>{@code URL}: prints {@code ready} once the operator has started (its informers synced), then waits
 * for a line {@code stop} (or the end of its input), stops the operator and prints one JSON line: heap
 * peak (sum of the heap pools' peaks), the largest heap occupancy after a collection, the live heap of
 * the idle operator right after its start, VmHWM, and its CPU time from start to stop.
 */
public final class ScaleOperatorChild {

    public static void main(String[] args) throws Exception {
        TailBenchChild.watchGc();
        Config config = new ConfigBuilder(Config.empty()).withMasterUrl(args[0]).withTrustCerts(true)
                .withNamespace(MockApiServer.DEFAULT_NAMESPACE).withHttp2Disable(true).build();
        KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
        Operator op = LatencyBench.startOperator(client);
        System.gc();
        long idleLive = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long cpuStart = processCpuNanos();
        long wallStart = System.nanoTime();
        System.out.println("ready");
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null && !line.equals("stop"); line = in.readLine()) {
            // only "stop" means something
        }
        long cpu = processCpuNanos() - cpuStart;
        long wall = System.nanoTime() - wallStart;
        int peakThreads = threads.getPeakThreadCount();
        op.stop();
        client.close();
        ObjectNode r = new ObjectMapper().createObjectNode();
        r.put("peakHeapUsedBytes", TailBenchChild.peakHeapUsed());
        r.put("maxHeapAfterGcBytes", TailBenchChild.maxHeapAfterGc());
        r.put("idleLiveHeapBytes", idleLive);
        r.put("maxHeapBytes", Runtime.getRuntime().maxMemory());
        r.put("vmHwmBytes", TailBenchChild.procStatus("VmHWM"));
        r.put("cpuSeconds", cpu / 1e9);
        r.put("wallSeconds", wall / 1e9);
        r.put("peakThreads", peakThreads);
        System.out.println(r.toString());
        System.out.flush();
        System.exit(0);
    }

    /** The CPU time of this JVM (all threads, JIT and GC included), or -1. */
    static long processCpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return -1;
    }
}
