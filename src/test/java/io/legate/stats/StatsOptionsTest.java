package io.legate.stats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.BoolValue;
import io.envoyproxy.envoy.config.metrics.v3.HistogramBucketSettings;
import io.envoyproxy.envoy.config.metrics.v3.StatsConfig;
import io.envoyproxy.envoy.config.metrics.v3.StatsMatcher;
import io.envoyproxy.envoy.config.metrics.v3.TagSpecifier;
import io.envoyproxy.envoy.type.matcher.v3.ListStringMatcher;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.legate.config.ConfigException;
import java.util.List;
import org.junit.jupiter.api.Test;

class StatsOptionsTest {
  static StringMatcher prefix(String p) {
    return StringMatcher.newBuilder().setPrefix(p).build();
  }

  static StatsStore store(StatsConfig config) {
    return new StatsStore(StatsOptions.from(config, "stats_config"));
  }

  @Test
  void rejectAllHandsOutNoOpStatsThatAreNotStored() {
    StatsStore s = store(StatsConfig.newBuilder()
        .setStatsMatcher(StatsMatcher.newBuilder().setRejectAll(true)).build());
    Counter c = s.counter("cluster.a.upstream_rq_total");
    c.inc();
    c.add(5);
    Gauge g = s.gauge("server.live");
    g.set(1);
    Histogram h = s.histogram("cluster.a.upstream_rq_time");
    h.record(3);
    assertThat(c.value()).isZero();
    assertThat(c.used()).isFalse();
    assertThat(g.value()).isZero();
    assertThat(h.count()).isZero();
    assertThat(s.counters()).isEmpty();
    assertThat(s.gauges()).isEmpty();
    assertThat(s.histograms()).isEmpty();
    assertThat(StatsFormatter.text(s, StatsFormatter.Query.ALL)).isEmpty();
  }

  @Test
  void rejectAllFalseKeepsEverything() {
    StatsStore s = store(StatsConfig.newBuilder()
        .setStatsMatcher(StatsMatcher.newBuilder().setRejectAll(false)).build());
    s.counter("a.b").inc();
    assertThat(s.counter("a.b").value()).isEqualTo(1);
  }

  @Test
  void inclusionAndExclusionLists() {
    StatsStore in = store(StatsConfig.newBuilder()
        .setStatsMatcher(StatsMatcher.newBuilder().setInclusionList(ListStringMatcher.newBuilder()
            .addPatterns(prefix("cluster.")).addPatterns(StringMatcher.newBuilder().setExact("server.live"))))
        .build());
    in.counter("cluster.a.upstream_rq_total").inc();
    in.counter("http.front.downstream_rq_total").inc();
    in.gauge("server.live").set(1);
    assertThat(StatsFormatter.text(in, StatsFormatter.Query.ALL))
        .isEqualTo("cluster.a.upstream_rq_total: 1\nserver.live: 1\n");

    StatsStore out = store(StatsConfig.newBuilder()
        .setStatsMatcher(StatsMatcher.newBuilder().setExclusionList(ListStringMatcher.newBuilder()
            .addPatterns(StringMatcher.newBuilder().setSafeRegex(RegexMatcher.newBuilder().setRegex(".*_rq_total")))
            .addPatterns(StringMatcher.newBuilder().setSuffix("LIVE").setIgnoreCase(true))))
        .build());
    out.counter("cluster.a.upstream_rq_total").inc();
    out.counter("cluster.a.upstream_rq_2xx").inc();
    out.gauge("server.live").set(1);
    assertThat(StatsFormatter.text(out, StatsFormatter.Query.ALL)).isEqualTo("cluster.a.upstream_rq_2xx: 1\n");
  }

  @Test
  void customTagsComeBeforeTheDefaults() {
    TagExtractor t = StatsOptions.from(StatsConfig.newBuilder()
        .addStatsTags(TagSpecifier.newBuilder().setTagName("region").setFixedValue("eu"))
        .addStatsTags(TagSpecifier.newBuilder().setTagName("shard").setRegex("^cluster\\.\\w+\\.(shard_(\\d+)\\.)"))
        .build(), "stats_config").tagExtractor();
    TagExtractor.TaggedName n = t.extract("cluster.a.shard_3.upstream_rq_200");
    assertThat(n.tagExtractedName()).isEqualTo("cluster.upstream_rq");
    assertThat(n.tags()).containsExactly(
        new TagExtractor.Tag("region", "eu"),
        new TagExtractor.Tag("envoy.response_code", "200"),
        new TagExtractor.Tag("shard", "3"),
        new TagExtractor.Tag("envoy.cluster_name", "a"));
  }

  @Test
  void useAllDefaultTagsFalseKeepsOnlyTheNamedOnes() {
    TagExtractor none = StatsOptions.from(StatsConfig.newBuilder()
        .setUseAllDefaultTags(BoolValue.of(false)).build(), "stats_config").tagExtractor();
    assertThat(none.extract("cluster.a.upstream_rq_200"))
        .isEqualTo(new TagExtractor.TaggedName("cluster.a.upstream_rq_200", List.of()));
    TagExtractor named = StatsOptions.from(StatsConfig.newBuilder()
        .setUseAllDefaultTags(BoolValue.of(false))
        .addStatsTags(TagSpecifier.newBuilder().setTagName("envoy.cluster_name"))
        .build(), "stats_config").tagExtractor();
    assertThat(named.extract("cluster.a.upstream_rq_200")).isEqualTo(new TagExtractor.TaggedName(
        "cluster.upstream_rq_200", List.of(new TagExtractor.Tag("envoy.cluster_name", "a"))));
  }

  @Test
  void histogramBucketSettingsApplyToMatchingHistograms() {
    StatsStore s = store(StatsConfig.newBuilder()
        .addHistogramBucketSettings(HistogramBucketSettings.newBuilder().setMatch(prefix("cluster.a."))
            .addBuckets(1).addBuckets(10).addBuckets(100))
        .build());
    Histogram a = s.histogram("cluster.a.upstream_rq_time");
    assertThat(a.bucketBounds()).containsExactly(1, 10, 100);
    assertThat(s.histogram("cluster.b.upstream_rq_time").bucketBounds()).containsExactly(Histogram.BUCKETS);
    a.record(0);
    a.record(7);
    a.record(50);
    a.record(5000);
    assertThat(a.cumulativeBuckets()).containsExactly(1, 2, 3);
    assertThat(StatsFormatter.textWithBuckets(s, StatsFormatter.Query.ALL, true))
        .isEqualTo("cluster.a.upstream_rq_time: B1(0,1) B10(0,2) B100(0,3)\n"
            + "cluster.b.upstream_rq_time: No recorded values\n");
    assertThat(StatsFormatter.textWithBuckets(s, StatsFormatter.Query.ALL, false))
        .startsWith("cluster.a.upstream_rq_time: B1(0,1) B10(0,1) B100(0,1)\n");
    assertThat(StatsFormatter.jsonWithBuckets(s, StatsFormatter.Query.ALL, false)).startsWith(
        "{\"stats\":[{\"histograms\":[{\"name\":\"cluster.a.upstream_rq_time\",\"buckets\":["
            + "{\"upper_bound\":1,\"interval\":0,\"cumulative\":1},{\"upper_bound\":10,\"interval\":0,\"cumulative\":1},"
            + "{\"upper_bound\":100,\"interval\":0,\"cumulative\":1}]},"
            + "{\"name\":\"cluster.b.upstream_rq_time\",\"buckets\":[");
    assertThat(new PrometheusFormatter(TagExtractor.defaults()).format(s, true, null)).isEqualTo("""
        # TYPE envoy_cluster_upstream_rq_time histogram
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="a",le="1"} 1
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="a",le="10"} 2
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="a",le="100"} 3
        envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="a",le="+Inf"} 4
        envoy_cluster_upstream_rq_time_sum{envoy_cluster_name="a"} 5057
        envoy_cluster_upstream_rq_time_count{envoy_cluster_name="a"} 4
        """);
  }

  @Test
  void defaultBucketsInEnvoysTextForm() {
    StatsStore s = new StatsStore();
    s.histogram("h1").record(200);
    s.histogram("h1").record(300);
    s.histogram("h1").record(300);
    // Envoy's StatsRenderTest.TextHistogramCumulative/Disjoint, with Legate's interval of 0.
    assertThat(StatsFormatter.textWithBuckets(s, StatsFormatter.Query.ALL, true)).isEqualTo(
        "h1: B0.5(0,0) B1(0,0) B5(0,0) B10(0,0) B25(0,0) B50(0,0) B100(0,0) B250(0,1) "
            + "B500(0,3) B1000(0,3) B2500(0,3) B5000(0,3) B10000(0,3) B30000(0,3) B60000(0,3) "
            + "B300000(0,3) B600000(0,3) B1.8e+06(0,3) B3.6e+06(0,3)\n");
    assertThat(StatsFormatter.textWithBuckets(s, StatsFormatter.Query.ALL, false)).isEqualTo(
        "h1: B0.5(0,0) B1(0,0) B5(0,0) B10(0,0) B25(0,0) B50(0,0) B100(0,0) B250(0,1) B500(0,2) "
            + "B1000(0,0) B2500(0,0) B5000(0,0) B10000(0,0) B30000(0,0) B60000(0,0) B300000(0,0) "
            + "B600000(0,0) B1.8e+06(0,0) B3.6e+06(0,0)\n");
  }

  @Test
  void resetCountersAndLatchedDeltas() {
    StatsStore s = new StatsStore();
    Counter c = s.counter("a");
    c.add(5);
    assertThat(c.latch()).isEqualTo(5);
    c.add(2);
    assertThat(c.latch()).isEqualTo(2);
    assertThat(c.latch()).isZero();
    c.add(4);
    s.resetCounters();
    assertThat(c.value()).isZero();
    assertThat(c.used()).isTrue();
    c.inc();
    assertThat(c.latch()).isEqualTo(1);
  }

  @Test
  void configErrorsNameTheField() {
    assertThatThrownBy(() -> StatsOptions.from(StatsConfig.newBuilder()
        .setStatsMatcher(StatsMatcher.newBuilder().setInclusionList(ListStringMatcher.newBuilder()
            .addPatterns(prefix("a")).addPatterns(StringMatcher.newBuilder()
                .setSafeRegex(RegexMatcher.newBuilder().setRegex("a(")))))
        .build(), "stats_config"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("stats_config.stats_matcher.inclusion_list.patterns[1].safe_regex.regex: invalid regex 'a(': "
            + "Unclosed group");
    assertThatThrownBy(() -> StatsOptions.from(StatsConfig.newBuilder()
        .addStatsTags(TagSpecifier.newBuilder().setTagName("mine")).build(), "stats_config"))
        .hasMessage("stats_config.stats_tags[0]: No regex specified for tag specifier and no default regex for "
            + "name: 'mine'");
    assertThatThrownBy(() -> StatsOptions.from(StatsConfig.newBuilder()
        .addStatsTags(TagSpecifier.newBuilder().setTagName("x").setRegex("(")).build(), "stats_config"))
        .hasMessage("stats_config.stats_tags[0].regex: invalid regex '(': Unclosed group");
    assertThatThrownBy(() -> StatsOptions.from(StatsConfig.newBuilder()
        .addHistogramBucketSettings(HistogramBucketSettings.newBuilder().setMatch(prefix("a"))
            .addBuckets(10).addBuckets(5)).build(), "stats_config"))
        .hasMessage("stats_config.histogram_bucket_settings[0].buckets: buckets must be unique and increasing");
    assertThatThrownBy(() -> StatsOptions.from(StatsConfig.newBuilder()
        .addHistogramBucketSettings(HistogramBucketSettings.newBuilder().setMatch(prefix("a"))).build(),
        "stats_config"))
        .hasMessage("stats_config.histogram_bucket_settings[0].buckets: value must contain at least 1 item(s)");
  }

  @Test
  void formatGAsC() {
    assertThat(StatsFormatter.formatG(0.5)).isEqualTo("0.5");
    assertThat(StatsFormatter.formatG(300000)).isEqualTo("300000");
    assertThat(StatsFormatter.formatG(1800000)).isEqualTo("1.8e+06");
    assertThat(StatsFormatter.formatG(3600000)).isEqualTo("3.6e+06");
    assertThat(StatsFormatter.formatG(0.00001)).isEqualTo("1e-05");
  }
}
