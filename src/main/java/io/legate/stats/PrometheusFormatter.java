package io.legate.stats;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * Renders a {@link StatsStore} in Envoy's {@code /stats/prometheus} text format (exposition format
 * 0.0.4): metric names are {@code envoy_} plus the tag-extracted name, tags become labels in
 * extraction order, metrics are grouped by name under one {@code # TYPE} line, counters first, then
 * gauges, then histograms with their buckets (Envoy's defaults, {@link Histogram#BUCKETS}, or
 * {@code histogram_bucket_settings}).
 *
 * <p>The Prometheus name and label text of each stat are computed once and cached, so a scrape only
 * reads values. Instances are thread safe.
 */
public final class PrometheusFormatter {
  private static final Pattern INVALID_NAME_CHARS = Pattern.compile("[^a-zA-Z0-9_]");
  private static final String[] BUCKET_LABELS = bucketLabels();

  private final TagExtractor extractor;
  private final ConcurrentHashMap<String, Series> series = new ConcurrentHashMap<>();

  /** A stat's Prometheus identity: its group (tag-extracted name), metric name and label text. */
  private record Series(String group, String metricName, String labels) {}

  /** Creates a formatter that names series with {@code extractor}. */
  public PrometheusFormatter(TagExtractor extractor) {
    this.extractor = Objects.requireNonNull(extractor, "extractor");
  }

  /**
   * Returns the exposition text of the stats in {@code store}.
   *
   * @param usedOnly only stats that were ever written
   * @param filter partial-match filter on the full stat name, or null for all
   */
  public String format(StatsStore store, boolean usedOnly, Pattern filter) {
    Predicate<String> shows = filter == null ? n -> true : n -> filter.matcher(n).find();
    StringBuilder out = new StringBuilder(8192);
    List<Counter> counters = new ArrayList<>();
    for (Counter c : store.counters()) {
      if ((!usedOnly || c.used()) && shows.test(c.name())) {
        counters.add(c);
      }
    }
    List<Gauge> gauges = new ArrayList<>();
    for (Gauge g : store.gauges()) {
      if ((!usedOnly || g.used()) && shows.test(g.name())) {
        gauges.add(g);
      }
    }
    List<Histogram> histograms = new ArrayList<>();
    for (Histogram h : store.histograms()) {
      if ((!usedOnly || StatsFormatter.used(h)) && shows.test(h.name())) {
        histograms.add(h);
      }
    }
    for (Map.Entry<Series, List<Counter>> group : groups(counters).entrySet()) {
      typeLine(out, group.getKey().metricName(), "counter");
      for (Counter c : group.getValue()) {
        Series s = series(c.name());
        out.append(s.metricName()).append('{').append(s.labels()).append("} ").append(c.value())
            .append('\n');
      }
    }
    for (Map.Entry<Series, List<Gauge>> group : groups(gauges).entrySet()) {
      typeLine(out, group.getKey().metricName(), "gauge");
      for (Gauge g : group.getValue()) {
        Series s = series(g.name());
        out.append(s.metricName()).append('{').append(s.labels()).append("} ").append(g.value())
            .append('\n');
      }
    }
    for (Map.Entry<Series, List<Histogram>> group : groups(histograms).entrySet()) {
      typeLine(out, group.getKey().metricName(), "histogram");
      for (Histogram h : group.getValue()) {
        appendHistogram(out, series(h.name()), h);
      }
    }
    return out.toString();
  }

  private <M extends Metric> TreeMap<Series, List<M>> groups(List<M> metrics) {
    TreeMap<Series, List<M>> groups =
        new TreeMap<>(Comparator.comparing(Series::group, StatsFormatter.NAME_ORDER));
    for (M m : metrics) {
      groups.computeIfAbsent(series(m.name()), k -> new ArrayList<>()).add(m);
    }
    for (List<M> list : groups.values()) {
      list.sort(Comparator.comparing(Metric::name, StatsFormatter.NAME_ORDER));
    }
    return groups;
  }

  private static void typeLine(StringBuilder out, String metricName, String type) {
    out.append("# TYPE ").append(metricName).append(' ').append(type).append('\n');
  }

  private static void appendHistogram(StringBuilder out, Series s, Histogram h) {
    // Read count before the buckets so that +Inf never falls below the last finite bucket.
    long[] buckets = h.cumulativeBuckets();
    long count = Math.max(h.count(), buckets[buckets.length - 1]);
    long sum = h.sum();
    String bucketPrefix = s.labels().isEmpty() ? "" : s.labels() + ",";
    double[] bounds = h.bucketBounds();
    String[] labels = java.util.Arrays.equals(bounds, Histogram.BUCKETS) ? BUCKET_LABELS : labels(bounds);
    for (int i = 0; i < buckets.length; i++) {
      out.append(s.metricName()).append("_bucket{").append(bucketPrefix).append("le=\"")
          .append(labels[i]).append("\"} ").append(buckets[i]).append('\n');
    }
    out.append(s.metricName()).append("_bucket{").append(bucketPrefix).append("le=\"+Inf\"} ")
        .append(count).append('\n');
    out.append(s.metricName()).append("_sum{").append(s.labels()).append("} ").append(sum)
        .append('\n');
    out.append(s.metricName()).append("_count{").append(s.labels()).append("} ").append(count)
        .append('\n');
  }

  private Series series(String statName) {
    Series s = series.get(statName);
    if (s != null) {
      return s;
    }
    return series.computeIfAbsent(statName, n -> {
      TagExtractor.TaggedName tagged = extractor.extract(n);
      return new Series(
          tagged.tagExtractedName(),
          metricName(tagged.tagExtractedName()),
          formattedTags(tagged.tags()));
    });
  }

  /** Returns Envoy's Prometheus metric name: {@code envoy_} plus the sanitized name. */
  public static String metricName(String tagExtractedName) {
    return sanitizeName("envoy_" + tagExtractedName);
  }

  /** Returns the label text of {@code tags}: {@code a_b="v",c="w"}, values escaped. */
  public static String formattedTags(List<TagExtractor.Tag> tags) {
    StringBuilder out = new StringBuilder();
    for (TagExtractor.Tag tag : tags) {
      if (out.length() > 0) {
        out.append(',');
      }
      out.append(sanitizeName(tag.name())).append("=\"").append(sanitizeValue(tag.value()))
          .append('"');
    }
    return out.toString();
  }

  /** Replaces every character outside {@code [a-zA-Z0-9_]} with an underscore. */
  static String sanitizeName(String name) {
    return INVALID_NAME_CHARS.matcher(name).replaceAll("_");
  }

  /** Escapes backslash, newline and double quote as the Prometheus text format requires. */
  static String sanitizeValue(String value) {
    StringBuilder out = new StringBuilder(value.length());
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '"' -> out.append("\\\"");
        default -> out.append(c);
      }
    }
    return out.toString();
  }

  private static String[] bucketLabels() {
    return labels(Histogram.BUCKETS);
  }

  private static String[] labels(double[] bounds) {
    String[] labels = new String[bounds.length];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = StatsFormatter.formatNumber(bounds[i]);
    }
    return labels;
  }
}
