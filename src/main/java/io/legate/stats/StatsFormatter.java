package io.legate.stats;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Renders a {@link StatsStore} in the formats of Envoy's {@code /stats} admin endpoint: plain text
 * ({@code name: value}, histograms as quantile summaries) and JSON. Counters and gauges are merged
 * and sorted by name, histograms follow, as Envoy's {@code StatsRequest} does.
 *
 * <p>The interval half of Envoy's {@code P50(interval,cumulative)} pairs describes the values of the
 * last completed {@code stats_flush_interval}; it is {@code nan} ({@code null} in JSON) when that
 * interval recorded nothing.
 */
public final class StatsFormatter {
  /** The stat types of Envoy's {@code /stats?type=} parameter. */
  public enum Type {
    ALL("All"),
    COUNTERS("Counters"),
    GAUGES("Gauges"),
    HISTOGRAMS("Histograms");

    private final String label;

    Type(String label) {
      this.label = label;
    }

    /** Returns Envoy's label for this type ({@code Counters}, ...). */
    public String label() {
      return label;
    }

    /** Returns the type with Envoy's label {@code label}, or null when there is none. */
    public static Type fromLabel(String label) {
      for (Type t : values()) {
        if (t.label.equals(label)) {
          return t;
        }
      }
      return null;
    }
  }

  /**
   * Which stats to render.
   *
   * @param usedOnly only stats that were ever written (Envoy's {@code usedonly})
   * @param filter partial-match filter on the full name, or null for all
   * @param type which stat types to include
   */
  public record Query(boolean usedOnly, Pattern filter, Type type) {
    /** All stats of all types. */
    public static final Query ALL = new Query(false, null, Type.ALL);

    public Query {
      Objects.requireNonNull(type, "type");
    }

    boolean shows(String name) {
      return filter == null || filter.matcher(name).find();
    }
  }

  /** Envoy's supported quantiles, as fractions. */
  static final double[] QUANTILES = {0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1};

  private static final String[] QUANTILE_LABELS = {
    "P0", "P25", "P50", "P75", "P90", "P95", "P99", "P99.5", "P99.9", "P100"
  };

  private static final String SUPPORTED_QUANTILES = "[0,25,50,75,90,95,99,99.5,99.9,100]";

  /** Orders names as Envoy's symbol table does: token by token, so '.' sorts before any char. */
  public static final Comparator<String> NAME_ORDER = StatsFormatter::compareNames;

  private StatsFormatter() {}

  /** Returns the text rendering: one {@code name: value} line per stat. */
  public static String text(StatsStore store, Query query) {
    StringBuilder out = new StringBuilder(4096);
    for (Metric m : countersAndGauges(store, query)) {
      out.append(m.name()).append(": ").append(value(m)).append('\n');
    }
    for (Histogram h : histograms(store, query)) {
      out.append(h.name()).append(": ").append(quantileSummary(h)).append('\n');
    }
    return out.toString();
  }

  /**
   * Returns the text rendering with histograms as Envoy's bucket summaries ({@code
   * histogram_buckets=cumulative}: {@code B0.5(0,0) B1(0,2) ...}; {@code disjoint}: the count in each
   * bucket alone). Each pair is {@code (interval,cumulative)}, the interval being the last completed
   * {@code stats_flush_interval}.
   */
  public static String textWithBuckets(StatsStore store, Query query, boolean cumulative) {
    StringBuilder out = new StringBuilder(4096);
    for (Metric m : countersAndGauges(store, query)) {
      out.append(m.name()).append(": ").append(value(m)).append('\n');
    }
    for (Histogram h : histograms(store, query)) {
      out.append(h.name()).append(": ");
      if (h.count() == 0) {
        out.append("No recorded values\n");
        continue;
      }
      double[] bounds = h.bucketBounds();
      long[] counts = h.cumulativeBuckets();
      long[] interval = h.intervalCumulativeBuckets();
      for (int i = 0; i < bounds.length; i++) {
        long c = cumulative || i == 0 ? counts[i] : counts[i] - counts[i - 1];
        long iv = cumulative || i == 0 ? interval[i] : interval[i] - interval[i - 1];
        if (i > 0) {
          out.append(' ');
        }
        out.append('B').append(formatG(bounds[i])).append('(').append(iv).append(',').append(c).append(')');
      }
      out.append('\n');
    }
    return out.toString();
  }

  /**
   * Returns the JSON rendering with histograms as Envoy's bucket lists: {@code {"histograms":[{"name":
   * ..,"buckets":[{"upper_bound":0.5,"interval":0,"cumulative":0},...]}]}} (cumulative or disjoint
   * counts; the interval is the last completed {@code stats_flush_interval}).
   */
  public static String jsonWithBuckets(StatsStore store, Query query, boolean cumulative) {
    StringBuilder out = new StringBuilder(4096);
    out.append("{\"stats\":[");
    boolean first = !appendJsonCountersAndGauges(out, store, query);
    List<Histogram> histograms = histograms(store, query);
    if (!histograms.isEmpty()) {
      if (!first) {
        out.append(',');
      }
      out.append("{\"histograms\":[");
      for (int i = 0; i < histograms.size(); i++) {
        Histogram h = histograms.get(i);
        if (i > 0) {
          out.append(',');
        }
        out.append("{\"name\":");
        appendJsonString(out, h.name());
        out.append(",\"buckets\":[");
        double[] bounds = h.bucketBounds();
        long[] counts = h.cumulativeBuckets();
        long[] interval = h.intervalCumulativeBuckets();
        for (int b = 0; b < bounds.length; b++) {
          long c = cumulative || b == 0 ? counts[b] : counts[b] - counts[b - 1];
          long iv = cumulative || b == 0 ? interval[b] : interval[b] - interval[b - 1];
          if (b > 0) {
            out.append(',');
          }
          out.append("{\"upper_bound\":").append(formatNumber(bounds[b])).append(",\"interval\":").append(iv)
              .append(",\"cumulative\":").append(c).append('}');
        }
        out.append("]}");
      }
      out.append("]}");
    }
    out.append("]}");
    return out.toString();
  }

  /** Formats as C's {@code %g} (six significant digits): {@code 0.5}, {@code 300000}, {@code 1.8e+06}. */
  static String formatG(double v) {
    if (v == 0) {
      return "0";
    }
    int exp = (int) Math.floor(Math.log10(Math.abs(v)));
    java.math.BigDecimal rounded = new java.math.BigDecimal(v).round(new java.math.MathContext(6));
    if (exp < -4 || exp >= 6) {
      java.math.BigDecimal mantissa = rounded.movePointLeft(exp).stripTrailingZeros();
      String e = Integer.toString(Math.abs(exp));
      return mantissa.toPlainString() + (exp < 0 ? "e-" : "e+") + (e.length() < 2 ? "0" + e : e);
    }
    return rounded.stripTrailingZeros().toPlainString();
  }

  /**
   * Appends the counters and gauges as JSON {@code {"name":..,"value":..}} objects, comma-separated;
   * returns whether any was written.
   */
  private static boolean appendJsonCountersAndGauges(StringBuilder out, StatsStore store, Query query) {
    boolean any = false;
    for (Metric m : countersAndGauges(store, query)) {
      if (any) {
        out.append(',');
      }
      any = true;
      out.append("{\"name\":");
      appendJsonString(out, m.name());
      out.append(",\"value\":").append(value(m)).append('}');
    }
    return any;
  }

  /** Returns the JSON rendering, {@code {"stats":[{"name":..,"value":..},...,{"histograms":..}]}}. */
  public static String json(StatsStore store, Query query) {
    StringBuilder out = new StringBuilder(4096);
    out.append("{\"stats\":[");
    boolean first = !appendJsonCountersAndGauges(out, store, query);
    List<Histogram> histograms = histograms(store, query);
    if (!histograms.isEmpty()) {
      if (!first) {
        out.append(',');
      }
      out.append("{\"histograms\":{\"supported_quantiles\":").append(SUPPORTED_QUANTILES);
      out.append(",\"computed_quantiles\":[");
      for (int i = 0; i < histograms.size(); i++) {
        Histogram h = histograms.get(i);
        if (i > 0) {
          out.append(',');
        }
        out.append("{\"name\":");
        appendJsonString(out, h.name());
        out.append(",\"values\":[");
        double[] cumulative = h.quantiles(QUANTILES);
        double[] interval = h.intervalQuantiles(QUANTILES);
        for (int q = 0; q < QUANTILES.length; q++) {
          if (q > 0) {
            out.append(',');
          }
          double v = cumulative[q];
          double iv = interval[q];
          out.append("{\"cumulative\":").append(Double.isNaN(v) ? "null" : formatNumber(v));
          out.append(",\"interval\":").append(Double.isNaN(iv) ? "null" : formatNumber(iv)).append('}');
        }
        out.append("]}");
      }
      out.append("]}}");
    }
    out.append("]}");
    return out.toString();
  }

  /**
   * Returns Envoy's quantile summary of a histogram, {@code P0(1,1) P25(2,2) ... P100(9,9)} (interval,
   * cumulative; the interval {@code nan} when the last flush interval recorded nothing), or {@code No
   * recorded values} when nothing was ever recorded.
   */
  public static String quantileSummary(Histogram h) {
    if (h.count() == 0) {
      return "No recorded values";
    }
    StringBuilder out = new StringBuilder(128);
    double[] cumulative = h.quantiles(QUANTILES);
    double[] interval = h.intervalQuantiles(QUANTILES);
    for (int i = 0; i < QUANTILES.length; i++) {
      if (i > 0) {
        out.append(' ');
      }
      out.append(QUANTILE_LABELS[i]).append('(').append(formatNumber(interval[i]))
          .append(',').append(formatNumber(cumulative[i])).append(')');
    }
    return out.toString();
  }

  /** Returns Envoy's "used" flag for a histogram: whether a value was ever recorded. */
  static boolean used(Histogram h) {
    return h.count() > 0;
  }

  /**
   * Formats a number as fmt's shortest form does for the values Legate produces: whole numbers
   * without a fraction, others in plain decimal notation, NaN as {@code nan}.
   */
  public static String formatNumber(double v) {
    if (Double.isNaN(v)) {
      return "nan";
    }
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return Long.toString((long) v);
    }
    return new java.math.BigDecimal(Double.toString(v)).stripTrailingZeros().toPlainString();
  }

  private static List<Metric> countersAndGauges(StatsStore store, Query query) {
    List<Metric> out = new ArrayList<>();
    if (query.type() == Type.ALL || query.type() == Type.COUNTERS) {
      for (Counter c : store.counters()) {
        if ((!query.usedOnly() || c.used()) && query.shows(c.name())) {
          out.add(c);
        }
      }
    }
    if (query.type() == Type.ALL || query.type() == Type.GAUGES) {
      for (Gauge g : store.gauges()) {
        if ((!query.usedOnly() || g.used()) && query.shows(g.name())) {
          out.add(g);
        }
      }
    }
    out.sort(Comparator.comparing(Metric::name, NAME_ORDER));
    return out;
  }

  private static List<Histogram> histograms(StatsStore store, Query query) {
    List<Histogram> out = new ArrayList<>();
    if (query.type() == Type.ALL || query.type() == Type.HISTOGRAMS) {
      for (Histogram h : store.histograms()) {
        if ((!query.usedOnly() || used(h)) && query.shows(h.name())) {
          out.add(h);
        }
      }
    }
    out.sort(Comparator.comparing(Metric::name, NAME_ORDER));
    return out;
  }

  private static long value(Metric m) {
    return m instanceof Counter c ? c.value() : ((Gauge) m).value();
  }

  static int compareNames(String a, String b) {
    int n = Math.min(a.length(), b.length());
    for (int i = 0; i < n; i++) {
      char x = a.charAt(i);
      char y = b.charAt(i);
      if (x != y) {
        if (x == '.') {
          return -1;
        }
        if (y == '.') {
          return 1;
        }
        return Character.compare(x, y);
      }
    }
    return Integer.compare(a.length(), b.length());
  }

  static void appendJsonString(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }
}
