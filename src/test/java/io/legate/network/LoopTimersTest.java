package io.legate.network;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LoopTimersTest {
  private static EventLoopGroup group;
  private static EventLoop loop;

  @BeforeAll
  static void start() {
    group = Transport.group(1, "timers-test");
    loop = group.next();
  }

  @AfterAll
  static void stop() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }

  private static <T> T onLoop(java.util.concurrent.Callable<T> c) throws Exception {
    return loop.submit(c).get(5, TimeUnit.SECONDS);
  }

  @Test
  void timersOfOneDurationFireInOrderNotEarlyAndCancelledOnesNever() throws Exception {
    ConcurrentLinkedQueue<String> fired = new ConcurrentLinkedQueue<>();
    CountDownLatch done = new CountDownLatch(2);
    long[] started = new long[5];
    long[] at = new long[5];
    List<LoopTimers.Timer> timers =
        onLoop(
            () -> {
              List<LoopTimers.Timer> ts = new ArrayList<>();
              for (int i = 0; i < 5; i++) {
                int n = i;
                started[n] = System.nanoTime();
                ts.add(
                    LoopTimers.schedule(
                        loop,
                        150,
                        () -> {
                          at[n] = System.nanoTime();
                          fired.add("t" + n);
                          done.countDown();
                        }));
              }
              return ts;
            });
    // Cancel the oldest (the one the lane's task is armed for), one in the middle, and the newest.
    assertThat(onLoop(() -> timers.get(0).cancel())).isTrue();
    assertThat(onLoop(() -> timers.get(2).cancel())).isTrue();
    assertThat(timers.get(4).cancel()).as("cancel from another thread").isTrue();
    assertThat(done.await(5, TimeUnit.SECONDS)).isTrue();
    Thread.sleep(300); // anything cancelled would have fired by now
    assertThat(fired).containsExactly("t1", "t3");
    for (int n : new int[] {1, 3}) {
      assertThat(at[n] - started[n]).as("t" + n + " waited its full duration").isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(150));
    }
    assertThat(onLoop(() -> timers.get(1).cancel())).as("a fired timer cannot be cancelled").isFalse();
    assertThat(onLoop(() -> timers.get(0).cancel())).as("nor a cancelled one again").isFalse();
  }

  @Test
  void aLaneThatEmptiedArmsAgainForLaterTimers() throws Exception {
    LoopTimers.Timer first = onLoop(() -> LoopTimers.schedule(loop, 120, () -> {}));
    onLoop(first::cancel);
    CompletableFuture<Long> second = new CompletableFuture<>();
    long t0 = System.nanoTime();
    onLoop(() -> LoopTimers.schedule(loop, 120, () -> second.complete(System.nanoTime())));
    assertThat(second.get(5, TimeUnit.SECONDS) - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(120));
  }

  @Test
  void moreDurationsThanLanesAndOtherThreadsUseTheLoopsOwnTimers() throws Exception {
    int n = 40;
    CountDownLatch all = new CountDownLatch(n + 1);
    onLoop(
        () -> {
          for (int i = 0; i < n; i++) {
            LoopTimers.schedule(loop, 20 + i, all::countDown);
          }
          return null;
        });
    LoopTimers.schedule(loop, 30, all::countDown); // not on the loop
    assertThat(all.await(5, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void aFailingTaskDoesNotStopTheOthers() throws Exception {
    CountDownLatch ok = new CountDownLatch(1);
    onLoop(
        () -> {
          LoopTimers.schedule(loop, 50, () -> { throw new IllegalStateException("boom"); });
          LoopTimers.schedule(loop, 50, ok::countDown);
          return null;
        });
    assertThat(ok.await(5, TimeUnit.SECONDS)).isTrue();
  }
}
