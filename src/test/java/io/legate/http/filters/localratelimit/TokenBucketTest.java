package io.legate.http.filters.localratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class TokenBucketTest {
  static final long S = 1_000_000_000L;
  final AtomicLong now = new AtomicLong(5 * S);

  @Test
  void startsFullThenRefillsProRata() {
    TokenBucket b = new TokenBucket(3, 3, S, now::get);
    assertThat(b.remainingTokens()).isEqualTo(3);
    assertThat(b.tryConsume()).isTrue();
    assertThat(b.tryConsume()).isTrue();
    assertThat(b.tryConsume()).isTrue();
    assertThat(b.tryConsume()).isFalse();
    assertThat(b.remainingTokens()).isZero();
    now.addAndGet(S / 3 - 1);
    assertThat(b.tryConsume()).isFalse();
    now.addAndGet(1);
    assertThat(b.tryConsume()).isTrue();
    assertThat(b.tryConsume()).isFalse();
    // a long idle time fills to max_tokens, no more
    now.addAndGet(100 * S);
    assertThat(b.remainingTokens()).isEqualTo(3);
    int taken = 0;
    while (b.tryConsume()) {
      taken++;
    }
    assertThat(taken).isEqualTo(3);
  }

  @Test
  void tokensPerFillAboveMaxTokensIsCapped() {
    TokenBucket b = new TokenBucket(2, 10, 5 * S, now::get);
    assertThat(b.tryConsume()).isTrue();
    assertThat(b.tryConsume()).isTrue();
    assertThat(b.tryConsume()).isFalse();
    now.addAndGet(5 * S);
    assertThat(b.remainingTokens()).isEqualTo(2);
  }

  @Test
  void resetSecondsIsTheWaitForTheNextToken() {
    TokenBucket b = new TokenBucket(1, 1, 5 * S, now::get);
    assertThat(b.resetSeconds()).isZero();
    assertThat(b.tryConsume()).isTrue();
    assertThat(b.resetSeconds()).isEqualTo(5);
    now.addAndGet(1_500_000_000L);
    assertThat(b.resetSeconds()).isEqualTo(3);
    assertThat(b.maxTokens()).isEqualTo(1);
  }

  @Test
  void concurrentTakersNeverExceedTheBucket() throws Exception {
    TokenBucket b = new TokenBucket(1000, 1, 3600 * S, now::get);
    AtomicInteger granted = new AtomicInteger();
    int threads = 4;
    CountDownLatch start = new CountDownLatch(1);
    Thread[] ts = new Thread[threads];
    for (int i = 0; i < threads; i++) {
      ts[i] = new Thread(() -> {
        try {
          start.await();
        } catch (InterruptedException e) {
          return;
        }
        for (int k = 0; k < 1000; k++) {
          if (b.tryConsume()) {
            granted.incrementAndGet();
          }
        }
      });
      ts[i].start();
    }
    start.countDown();
    for (Thread t : ts) {
      t.join(10_000);
    }
    assertThat(granted.get()).isEqualTo(1000);
  }
}
