package io.legate.stats;

import io.envoyproxy.envoy.config.metrics.v3.HistogramBucketSettings;
import io.envoyproxy.envoy.config.metrics.v3.StatsConfig;
import io.envoyproxy.envoy.config.metrics.v3.StatsMatcher;
import io.envoyproxy.envoy.config.metrics.v3.TagSpecifier;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.legate.config.ConfigException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * The bootstrap's {@code stats_config}, compiled once: which stats are created ({@code
 * stats_matcher}), how names are split into tags ({@code stats_tags}, {@code
 * use_all_default_tags}) and the histogram buckets ({@code histogram_bucket_settings}).
 *
 * @param accepts whether a stat of this name is created (rejected stats are no-op objects)
 * @param tagExtractor the tag extraction for Prometheus and tagged sinks
 * @param buckets the histogram bucket rules, first match wins
 */
public record StatsOptions(Predicate<String> accepts, TagExtractor tagExtractor, List<BucketRule> buckets) {
  /** Envoy's defaults: every stat, the default tags, the default buckets. */
  public static final StatsOptions DEFAULTS = new StatsOptions(n -> true, TagExtractor.defaults(), List.of());

  /** A {@code histogram_bucket_settings} entry: histograms whose name matches get these bounds. */
  public record BucketRule(Predicate<String> match, double[] bounds) {
    public BucketRule {
      Objects.requireNonNull(match, "match");
      bounds = bounds.clone();
    }
  }

  public StatsOptions {
    Objects.requireNonNull(accepts, "accepts");
    Objects.requireNonNull(tagExtractor, "tagExtractor");
    buckets = List.copyOf(buckets);
  }

  /** Returns the bucket bounds of the histogram {@code name}. */
  double[] bucketsFor(String name) {
    for (BucketRule r : buckets) {
      if (r.match().test(name)) {
        return r.bounds();
      }
    }
    return Histogram.BUCKETS;
  }

  /**
   * Compiles {@code stats_config}.
   *
   * @param path the field path of {@code stats_config}, for errors
   * @throws ConfigException naming the field
   */
  public static StatsOptions from(StatsConfig config, String path) {
    Predicate<String> accepts = matcher(config.getStatsMatcher(), path + ".stats_matcher");
    List<TagExtractor.Spec> specs = new ArrayList<>();
    for (int i = 0; i < config.getStatsTagsCount(); i++) {
      TagSpecifier t = config.getStatsTags(i);
      String tp = path + ".stats_tags[" + i + "]";
      if (t.getTagName().isEmpty()) {
        throw new ConfigException(tp + ".tag_name", "value length must be at least 1 characters");
      }
      switch (t.getTagValueCase()) {
        case REGEX -> specs.add(TagExtractor.Spec.regex(t.getTagName(), t.getRegex(), tp + ".regex"));
        case FIXED_VALUE -> specs.add(TagExtractor.Spec.fixed(t.getTagName(), t.getFixedValue()));
        default -> {
          // Envoy: a tag name without a value names one of the default extractors.
          if (!TagExtractor.isDefaultName(t.getTagName())) {
            throw new ConfigException(tp, "No regex specified for tag specifier and no default regex for name: '"
                + t.getTagName() + "'");
          }
          specs.add(TagExtractor.Spec.byDefaultName(t.getTagName()));
        }
      }
    }
    boolean defaults = !config.hasUseAllDefaultTags() || config.getUseAllDefaultTags().getValue();
    TagExtractor extractor = specs.isEmpty() && defaults ? TagExtractor.defaults() : TagExtractor.of(specs, defaults);
    List<BucketRule> buckets = new ArrayList<>();
    for (int i = 0; i < config.getHistogramBucketSettingsCount(); i++) {
      HistogramBucketSettings s = config.getHistogramBucketSettings(i);
      String bp = path + ".histogram_bucket_settings[" + i + "]";
      if (s.getBucketsCount() == 0) {
        throw new ConfigException(bp + ".buckets", "value must contain at least 1 item(s)");
      }
      double[] bounds = new double[s.getBucketsCount()];
      for (int b = 0; b < bounds.length; b++) {
        bounds[b] = s.getBuckets(b);
        if (!(bounds[b] > 0)) {
          throw new ConfigException(bp + ".buckets[" + b + "]", "value must be greater than 0");
        }
        if (b > 0 && bounds[b] <= bounds[b - 1]) {
          throw new ConfigException(bp + ".buckets", "buckets must be unique and increasing");
        }
      }
      buckets.add(new BucketRule(NameMatcher.compile(s.getMatch(), bp + ".match"), bounds));
    }
    return new StatsOptions(accepts, extractor, buckets);
  }

  private static Predicate<String> matcher(StatsMatcher m, String path) {
    return switch (m.getStatsMatcherCase()) {
      case REJECT_ALL -> m.getRejectAll() ? n -> false : n -> true;
      case INCLUSION_LIST -> {
        Predicate<String> any = anyOf(m.getInclusionList().getPatternsList(), path + ".inclusion_list.patterns");
        yield any;
      }
      case EXCLUSION_LIST -> {
        Predicate<String> any = anyOf(m.getExclusionList().getPatternsList(), path + ".exclusion_list.patterns");
        yield any.negate();
      }
      default -> n -> true;
    };
  }

  private static Predicate<String> anyOf(List<StringMatcher> patterns, String path) {
    List<Predicate<String>> list = new ArrayList<>();
    for (int i = 0; i < patterns.size(); i++) {
      list.add(NameMatcher.compile(patterns.get(i), path + "[" + i + "]"));
    }
    return n -> {
      for (Predicate<String> p : list) {
        if (p.test(n)) {
          return true;
        }
      }
      return false;
    };
  }
}
