package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** statsd and dog_statsd sinks: real UDP datagrams after known traffic, flushed by the main thread. */
class StatsSinkIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      stats_flush_interval: 0.1s
      stats_sinks:
      - name: envoy.stat_sinks.${SINK}
        typed_config:
          "@type": type.googleapis.com/envoy.config.metrics.v3.${TYPE}
          address: { socket_address: { address: 127.0.0.1, port_value: ${STATSD} } }
          ${EXTRA}
      stats_config:
        stats_matcher:
          exclusion_list:
            patterns:
            - prefix: "cluster.up.upstream_cx_"
            - safe_regex: { regex: "http\\\\.front\\\\.downstream_cx_.*" }
      static_resources:
        listeners:
        - name: front
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: front
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/" }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: up
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
      """;

  /** Receives datagrams until a line for which {@code stop} holds arrives; returns every line. */
  static List<String> receiveUntil(DatagramSocket socket, java.util.function.Predicate<String> stop) throws Exception {
    List<String> lines = new ArrayList<>();
    long deadline = System.nanoTime() + 10_000_000_000L;
    byte[] buf = new byte[65536];
    while (System.nanoTime() < deadline) {
      DatagramPacket p = new DatagramPacket(buf, buf.length);
      try {
        socket.receive(p);
      } catch (SocketTimeoutException e) {
        continue;
      }
      String payload = new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8);
      boolean done = false;
      for (String line : payload.split("\n")) {
        lines.add(line);
        done |= stop.test(line);
      }
      if (done) {
        return lines;
      }
    }
    throw new AssertionError("no matching statsd line; got " + lines.subList(Math.max(0, lines.size() - 50), lines.size()));
  }

  static long delta(String line) {
    return Long.parseLong(line.substring(line.indexOf(':') + 1, line.indexOf('|')));
  }

  @Test
  void statsdSendsCounterDeltasGaugesAndTimers() throws Exception {
    try (DatagramSocket statsd = new DatagramSocket(0, InetAddress.getByName("127.0.0.1"));
        TestUpstream up = new TestUpstream("up");
        Legate l = Legate.start(CONFIG, Map.of("SINK", "statsd", "TYPE", "StatsdSink", "EXTRA", "prefix: legate",
            "STATSD", statsd.getLocalPort(), "UP", up.port()))) {
      statsd.setSoTimeout(200);
      for (int i = 0; i < 3; i++) {
        assertThat(l.get("front", "/a").statusCode()).isEqualTo(200);
      }
      // Requests may straddle a flush: the deltas of the burst add up to exactly 3, never more.
      String rq200 = "legate.cluster.up.upstream_rq_200:";
      long[] sum = {0};
      // Counters come first in a flush, then gauges: read the flush to its server.live gauge.
      List<String> first = receiveUntil(statsd, s -> {
        if (s.startsWith(rq200)) {
          sum[0] += delta(s);
        }
        return sum[0] >= 3 && s.startsWith("legate.server.live:");
      });
      assertThat(sum[0]).isEqualTo(3);
      assertThat(first).anyMatch(s -> s.startsWith("legate.cluster.up.upstream_rq_2xx:") && !s.endsWith(":0|c"));
      // Each datagram is one line for plain statsd; gauges are absolute values.
      assertThat(first).anyMatch(s -> s.startsWith("legate.server.live:1|g"));
      // Rejected stats are never sent.
      assertThat(first).noneMatch(s -> s.startsWith("legate.cluster.up.upstream_cx_"));
      assertThat(first).noneMatch(s -> s.startsWith("legate.http.front.downstream_cx_"));
      assertThat(first).allMatch(s -> s.matches("legate\\.[a-z0-9_.]+:\\d+\\|(c|g|ms)"));

      // A flush with no traffic sends a delta of 0.
      List<String> quiet = receiveUntil(statsd, s -> s.equals(rq200 + "0|c"));
      assertThat(quiet).noneMatch(s -> s.startsWith(rq200) && !s.equals(rq200 + "0|c"));

      for (int i = 0; i < 2; i++) {
        assertThat(l.get("front", "/b").statusCode()).isEqualTo(200);
      }
      sum[0] = 0;
      List<String> second = receiveUntil(statsd, s -> {
        if (s.startsWith(rq200)) {
          sum[0] += delta(s);
        }
        return sum[0] >= 2 && s.startsWith("legate.server.live:");
      });
      assertThat(sum[0]).isEqualTo(2);
      // Histogram values recorded since the last flush go out as timers.
      List<String> all = new ArrayList<>(first);
      all.addAll(quiet);
      all.addAll(second);
      // Timers follow the counters and gauges of their flush: read on until all five arrived.
      long[] timers = {all.stream().filter(s -> s.startsWith("legate.cluster.up.upstream_rq_time:")).count()};
      if (timers[0] < 5) {
        all.addAll(receiveUntil(statsd,
            s -> s.startsWith("legate.cluster.up.upstream_rq_time:") && ++timers[0] >= 5));
      }
      assertThat(all.stream().filter(s -> s.startsWith("legate.cluster.up.upstream_rq_time:")).toList())
          .hasSize(5)
          .allMatch(s -> s.matches("legate\\.cluster\\.up\\.upstream_rq_time:\\d+\\|ms"));
      // The matcher also keeps the rejected stats out of /stats.
      String stats = l.admin("/stats").body();
      assertThat(stats).contains("cluster.up.upstream_rq_200: 5\n").doesNotContain("cluster.up.upstream_cx_total")
          .doesNotContain("http.front.downstream_cx_total");
    }
  }

  @Test
  void dogStatsdSendsTaggedLinesPackedIntoDatagrams() throws Exception {
    try (DatagramSocket statsd = new DatagramSocket(0, InetAddress.getByName("127.0.0.1"));
        TestUpstream up = new TestUpstream("up");
        Legate l = Legate.start(CONFIG, Map.of("SINK", "dog_statsd", "TYPE", "DogStatsdSink",
            "EXTRA", "max_bytes_per_datagram: 512", "STATSD", statsd.getLocalPort(), "UP", up.port()))) {
      statsd.setSoTimeout(200);
      assertThat(l.get("front", "/a").statusCode()).isEqualTo(200);
      boolean[] counted = {false};
      List<String> lines = receiveUntil(statsd, s -> {
        counted[0] |= s.equals("envoy.cluster.upstream_rq:1|c|#envoy.response_code:200,envoy.cluster_name:up");
        return counted[0] && s.equals("envoy.server.live:1|g");
      });
      assertThat(lines).contains(
          "envoy.cluster.upstream_rq_xx:1|c|#envoy.response_code_class:2,envoy.cluster_name:up",
          "envoy.http.downstream_rq_xx:1|c|#envoy.response_code_class:2,envoy.http_conn_manager_prefix:front",
          "envoy.server.live:1|g");
      // Lines are newline-joined up to max_bytes_per_datagram.
      byte[] buf = new byte[65536];
      DatagramPacket p = new DatagramPacket(buf, buf.length);
      statsd.receive(p);
      assertThat(p.getLength()).isLessThanOrEqualTo(512);
      assertThat(new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8)).contains("\n");
    }
  }
}
