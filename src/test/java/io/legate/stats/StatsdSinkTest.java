package io.legate.stats;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.network.Transport;
import io.netty.channel.EventLoopGroup;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class StatsdSinkTest {
  static StatsdSink sink(boolean tagged, StatsStore store, EventLoopGroup loop, StatsdSink.Mode mode,
      InetSocketAddress to) {
    return new StatsdSink(new StatsdSink.Settings(mode, "envoy", tagged, 0), loop.next(), () -> to,
        TagExtractor.defaults(), store);
  }

  @Test
  void linesAreEnvoysInEnvoysOrder() throws Exception {
    EventLoopGroup loop = Transport.group(1, "statsd-test");
    try {
      StatsStore store = new StatsStore();
      store.counter("cluster.a.upstream_rq_200").add(3);
      store.counter("cluster.a.never_used");
      store.gauge("cluster.a.membership_total").set(2);
      store.gauge("unused_gauge");
      store.histogram("cluster.a.upstream_rq_time").record(7);
      store.histogram("cluster.a.upstream_rq_time").record(7);
      store.histogram("cluster.a.upstream_rq_time").record(40);
      StatsdSink plain = sink(false, store, loop, StatsdSink.Mode.UDP, null);
      StatsdSink dog = sink(true, store, loop, StatsdSink.Mode.UDP, null);
      StatsSink.Snapshot first = StatsSink.snapshot(store);
      assertThat(plain.lines(first)).containsExactly(
          "envoy.cluster.a.upstream_rq_200:3|c",
          "envoy.cluster.a.membership_total:2|g",
          "envoy.cluster.a.upstream_rq_time:7|ms",
          "envoy.cluster.a.upstream_rq_time:7|ms",
          "envoy.cluster.a.upstream_rq_time:41|ms");
      assertThat(dog.lines(first)).containsExactly(
          "envoy.cluster.upstream_rq:3|c|#envoy.response_code:200,envoy.cluster_name:a",
          "envoy.cluster.membership_total:2|g|#envoy.cluster_name:a",
          "envoy.cluster.upstream_rq_time:7|ms|#envoy.cluster_name:a",
          "envoy.cluster.upstream_rq_time:7|ms|#envoy.cluster_name:a",
          "envoy.cluster.upstream_rq_time:41|ms|#envoy.cluster_name:a");
      store.counter("cluster.a.upstream_rq_200").add(2);
      assertThat(plain.lines(StatsSink.snapshot(store))).containsExactly(
          "envoy.cluster.a.upstream_rq_200:2|c",
          "envoy.cluster.a.membership_total:2|g");
      plain.close();
      dog.close();
    } finally {
      loop.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).sync();
    }
  }

  @Test
  void tcpSinkWritesNewlineTerminatedLines() throws Exception {
    EventLoopGroup loop = Transport.group(1, "statsd-tcp-test");
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      server.setSoTimeout(10_000);
      StatsStore store = new StatsStore();
      store.counter("a.b").add(4);
      StatsdSink sink = sink(false, store, loop, StatsdSink.Mode.TCP,
          new InetSocketAddress("127.0.0.1", server.getLocalPort()));
      loop.next().submit(() -> sink.flush(StatsSink.snapshot(store))).sync();
      try (Socket s = server.accept()) {
        s.setSoTimeout(10_000);
        BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
        assertThat(in.readLine()).isEqualTo("envoy.a.b:4|c");
        store.counter("a.b").add(1);
        // The second flush reuses the connection.
        List<String> next = new ArrayList<>();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (next.isEmpty() && System.nanoTime() < deadline) {
          loop.next().submit(() -> sink.flush(StatsSink.snapshot(store))).sync();
          next.add(in.readLine());
        }
        assertThat(next).containsExactly("envoy.a.b:1|c");
      }
      sink.close();
    } finally {
      loop.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).sync();
    }
  }
}
