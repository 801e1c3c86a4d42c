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

  @Test
  void intervalHoldsTheValuesBetweenTheLastTwoFlushes() {
    Histogram h = new StatsStore().histogram("x");
    assertThat(h.latchInterval()).isEmpty();
    h.record(1);
    h.record(2);
    h.record(2);
    assertThat(h.intervalCount()).isZero();
    assertThat(h.intervalQuantile(0.5)).isNaN();
    assertThat(h.latchInterval()).containsExactly(1, 1, 2, 2);
    assertThat(h.intervalCount()).isEqualTo(3);
    assertThat(h.intervalQuantile(0)).isEqualTo(1);
    assertThat(h.intervalQuantile(1)).isEqualTo(2);
    h.record(40);
    assertThat(h.intervalCount()).isEqualTo(3); // until the next flush
    assertThat(h.latchInterval()).containsExactly(41, 1);
    assertThat(h.intervalQuantile(0)).isEqualTo(41);
    assertThat(h.quantile(0)).isEqualTo(1);
    assertThat(h.latchInterval()).isEmpty();
    assertThat(h.intervalCount()).isZero();
    assertThat(h.intervalCumulativeBuckets()).containsOnly(0L);
    assertThat(h.count()).isEqualTo(4);
  }

  @Test
  void intervalDeltasHoldAcrossManyBuckets() {
    Histogram h = new StatsStore().histogram("x");
    for (int v = 0; v < 200; v++) {
      h.record(v);
    }
    long[] first = h.latchInterval();
    long total = 0;
    for (int k = 1; k < first.length; k += 2) {
      total += first[k];
    }
    assertThat(total).isEqualTo(200);
    h.record(3);
    h.record(150);
    h.record(150);
    // 150 shares its sub-bucket (upper bound 151) with 148..151
    assertThat(h.latchInterval()).containsExactly(3, 1, 151, 2);
    assertThat(h.intervalCount()).isEqualTo(3);
  }
}
