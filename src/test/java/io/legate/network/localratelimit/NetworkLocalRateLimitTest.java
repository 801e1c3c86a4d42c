package io.legate.network.localratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.extension.FactoryContext;
import io.legate.extension.NetworkFilterConfigFactory;
import io.legate.stats.StatsStore;
import io.legate.upstream.ClusterManager;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

class NetworkLocalRateLimitTest {
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
    LocalRateLimit p = ConfigLoader.parse(yaml, LocalRateLimit.newBuilder(), "test").build();
    return new NetworkLocalRateLimitFactory().create(Any.pack(p), ctx, "filters[0]");
  }

  @Test
  void theBucketIsSharedByTheChainsConnections() {
    NetworkFilterConfigFactory.Factory f = factory("""
        stat_prefix: lrl
        token_bucket: { max_tokens: 2, fill_interval: 60s }
        """);
    EmbeddedChannel a = new EmbeddedChannel(f.newHandler(), new ChannelInboundHandlerAdapter());
    EmbeddedChannel b = new EmbeddedChannel(f.newHandler(), new ChannelInboundHandlerAdapter());
    EmbeddedChannel c = new EmbeddedChannel(f.newHandler(), new ChannelInboundHandlerAdapter());
    assertThat(a.isOpen()).isTrue();
    assertThat(a.pipeline().names()).hasSize(2); // the limiter left
    assertThat(b.isOpen()).isTrue();
    assertThat(c.isOpen()).isFalse();
    assertThat(stats.counter("local_rate_limit.lrl.rate_limited").value()).isEqualTo(1);
    assertThat(a.finishAndReleaseAll()).isFalse();
    assertThat(b.finishAndReleaseAll()).isFalse();
    assertThat(c.finishAndReleaseAll()).isFalse();
  }

  @Test
  void runtimeDisabledLetsEverythingThrough() {
    NetworkFilterConfigFactory.Factory f = factory("""
        stat_prefix: lrl
        token_bucket: { max_tokens: 1, fill_interval: 60s }
        runtime_enabled: { default_value: false, runtime_key: k }
        """);
    for (int i = 0; i < 3; i++) {
      EmbeddedChannel ch = new EmbeddedChannel(f.newHandler());
      assertThat(ch.isOpen()).isTrue();
      assertThat(ch.finishAndReleaseAll()).isFalse();
    }
    assertThat(stats.counter("local_rate_limit.lrl.rate_limited").value()).isEqualTo(0);
  }

  @Test
  void configErrorsNameTheField() {
    assertThatThrownBy(() -> factory("token_bucket: { max_tokens: 1, fill_interval: 1s }"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("filters[0].typed_config.stat_prefix: must not be empty");
    assertThatThrownBy(() -> factory("stat_prefix: a"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("filters[0].typed_config.token_bucket: must be set");
    assertThatThrownBy(() -> factory("stat_prefix: a\nshare_key: k\ntoken_bucket: { max_tokens: 1, fill_interval: 1s }"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("filters[0].typed_config.share_key: buckets shared between listeners are not supported");
  }
}
