package io.legate.stats;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HistogramTest {
  @Test
  void quantilesFollowRecordedValues() {
    Histogram h = new StatsStore().histogram("x");
    assertThat(h.quantile(0.5)).isNaN();
    for (int i = 1; i <= 100; i++) {
      h.record(i);
    }
    assertThat(h.count()).isEqualTo(100);
    assertThat(h.sum()).isEqualTo(5050);
    assertThat(h.quantile(0.5)).isBetween(48.0, 53.0);
    assertThat(h.quantile(0.99)).isBetween(97.0, 104.0);
    long[] cum = h.cumulativeBuckets();
    assertThat(cum[cum.length - 1]).isEqualTo(100);
    assertThat(cum[1]).isEqualTo(1); // <= 1ms
  }

  @Test
  void indexAndUpperBoundAgree() {
    for (long v = 0; v < 1_000_000; v += 7) {
      int i = Histogram.index(v);
      assertThat(Histogram.upperBound(i)).isGreaterThanOrEqualTo(v);
      if (i > 0) {
        assertThat(Histogram.upperBound(i - 1)).isLessThan(v);
      }
    }
  }
}
