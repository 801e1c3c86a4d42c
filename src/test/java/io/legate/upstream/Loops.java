package io.legate.upstream;

import io.netty.channel.EventLoop;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Test helpers for running on and waiting for the main loop. */
final class Loops {
  private Loops() {}

  static <T> T on(EventLoop loop, Callable<T> task) throws Exception {
    return loop.submit(task).get(10, TimeUnit.SECONDS);
  }

  static void run(EventLoop loop, Runnable task) throws Exception {
    loop.submit(task).get(10, TimeUnit.SECONDS);
  }

  /** Waits until {@code condition} (evaluated on the loop) holds, for at most 10 s. */
  static void await(EventLoop loop, BooleanSupplier condition) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!on(loop, condition::getAsBoolean)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met in 10 s");
      }
      Thread.sleep(5);
    }
  }
}
