package io.legate.network.rbac;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.extensions.filters.network.rbac.v3.RBAC;
import io.legate.config.ConfigLoader;
import io.legate.extension.FactoryContext;
import io.legate.extension.NetworkFilterConfigFactory;
import io.legate.stats.StatsStore;
import io.legate.upstream.ClusterManager;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class NetworkRbacHandlerTest {
  final StatsStore stats = new StatsStore();
  final FactoryContext ctx =
      new FactoryContext() {
        @Override
        public StatsStore stats() {
          return stats;
        }

        @Override
        public StatsStore.Scope scope() {
          return stats.scope("");
        }

        @Override
        public ClusterManager clusterManager() {
          return null;
        }
      };

  NetworkFilterConfigFactory.Factory factory(String yaml) {
    RBAC p = ConfigLoader.parse(yaml, RBAC.newBuilder(), "test").build();
    return new NetworkRbacFilterFactory().create(Any.pack(p), ctx, "filters[0]");
  }

  static ByteBuf bytes(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
  }

  // EmbeddedChannel's addresses are not IP addresses: policies on "any" principals and a header
  // (never matched on a connection) exercise the engine without them.
  @Test
  void aDeniedConnectionIsClosedAndItsBytesReleased() {
    NetworkFilterConfigFactory.Factory f = factory("""
        stat_prefix: tcp
        rules:
          action: DENY
          policies:
            all:
              permissions: [ { any: true } ]
              principals: [ { any: true } ]
        """);
    EmbeddedChannel ch = new EmbeddedChannel(f.newHandler());
    ByteBuf first = bytes("hello");
    ch.writeInbound(first);
    assertThat(first.refCnt()).isZero();
    assertThat(ch.isOpen()).isFalse();
    assertThat(stats.counter("tcp.rbac.denied").value()).isEqualTo(1);
    assertThat(stats.counter("tcp.rbac.allowed").value()).isEqualTo(0);
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }

  @Test
  void anAllowedConnectionPassesItsBytesAndTheHandlerLeaves() {
    NetworkFilterConfigFactory.Factory f = factory("""
        stat_prefix: tcp.
        shadow_rules_stat_prefix: "s_"
        rules:
          action: DENY
          policies:
            header-only:
              permissions: [ { header: { name: x, present_match: true } } ]
              principals: [ { any: true } ]
        shadow_rules:
          action: ALLOW
          policies:
            header-only:
              permissions: [ { header: { name: x, present_match: true } } ]
              principals: [ { any: true } ]
        """);
    EmbeddedChannel ch = new EmbeddedChannel(f.newHandler());
    ch.writeInbound(bytes("a"));
    ch.writeInbound(bytes("b"));
    assertThat(ch.pipeline().names()).hasSize(1); // only the tail context remains
    ByteBuf a = ch.readInbound();
    ByteBuf b = ch.readInbound();
    assertThat(a.toString(StandardCharsets.US_ASCII) + b.toString(StandardCharsets.US_ASCII)).isEqualTo("ab");
    a.release();
    b.release();
    assertThat(stats.counter("tcp.rbac.allowed").value()).isEqualTo(1);
    assertThat(stats.counter("tcp.rbac.s_shadow_denied").value()).isEqualTo(1);
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }
}
