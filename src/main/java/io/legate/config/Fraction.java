package io.legate.config;

import io.envoyproxy.envoy.config.core.v3.RuntimeFractionalPercent;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Envoy's {@code FractionalPercent} (and a {@code RuntimeFractionalPercent}'s default value): a
 * request drawing {@code random} is selected when {@code random % denominator < numerator}, as
 * Envoy's runtime {@code featureEnabled}. Legate has no runtime overrides, so runtime keys take their
 * default values. Immutable.
 */
public record Fraction(long numerator, long denominator) {
  public static final Fraction ALL = new Fraction(1, 1);
  public static final Fraction NONE = new Fraction(0, 1);

  /** Returns the fraction of a FractionalPercent proto (an unset one is 0/100). */
  public static Fraction of(FractionalPercent p, String path) {
    long den =
        switch (p.getDenominator()) {
          case HUNDRED -> 100;
          case TEN_THOUSAND -> 10_000;
          case MILLION -> 1_000_000;
          default -> throw new ConfigException(path + ".denominator", "unknown value " + p.getDenominatorValue());
        };
    return new Fraction(Integer.toUnsignedLong(p.getNumerator()), den);
  }

  /** Returns the default value of a RuntimeFractionalPercent, or {@code absent} when it is null. */
  public static Fraction ofRuntime(RuntimeFractionalPercent p, Fraction absent, String path) {
    return p == null ? absent : of(p.getDefaultValue(), path + ".default_value");
  }

  /** Returns whether a request drawing {@code random} is selected. */
  public boolean enabled(long random) {
    return Long.remainderUnsigned(random, denominator) < numerator;
  }

  /** Returns whether this request is selected, drawing from the thread's random generator. */
  public boolean sample() {
    return numerator >= denominator || (numerator > 0 && enabled(ThreadLocalRandom.current().nextLong()));
  }

  /** Returns this fraction with its numerator lowered to {@code maxNumerator} if that is smaller. */
  public Fraction capped(long maxNumerator) {
    return maxNumerator >= numerator ? this : new Fraction(maxNumerator, denominator);
  }
}
