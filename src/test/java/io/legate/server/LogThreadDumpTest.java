package io.legate.server;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LogThreadDumpTest {
  @Test
  void theDumpNamesEveryThreadWithItsStack() throws Exception {
    Object lock = new Object();
    Thread parked =
        new Thread(
            () -> {
              synchronized (lock) {
                try {
                  lock.wait();
                } catch (InterruptedException e) {
                  // done
                }
              }
            },
            "dump-test-waiter");
    parked.start();
    while (parked.getState() != Thread.State.WAITING) {
      Thread.onSpinWait();
    }
    try {
      String dump = Log.threadDump();
      assertThat(dump).contains("\"dump-test-waiter\" WAITING").contains("java.lang.Object.wait(");
      assertThat(dump).contains("\"" + Thread.currentThread().getName() + "\"").contains("LogThreadDumpTest.theDumpNamesEveryThreadWithItsStack");
    } finally {
      parked.interrupt();
      parked.join();
    }
  }
}
