#pragma once
// How lipsyncd writes numbers, in one place. People read money as dollars and cents and
// durations to the millisecond; scripts read plain decimals (never 4.53E0 or 1e-07) with a
// fixed precision, so a log line, a sidecar and `check --json` agree on what a value looks like.

#include <string>

namespace lipsyncd {

// Decimals kept in machine-readable fields (JSON, logfmt, journald).
inline constexpr int kUsdDecimals = 4;      // a hundredth of a cent: sums stay exact to the cent
inline constexpr int kSecondsDecimals = 3;  // a millisecond
inline constexpr int kMinutesDecimals = 5;  // under a millisecond, in minutes

// `value` rounded to `decimals` places, in plain decimal notation without trailing zeros:
// 4.53, 0.079, 12, -0.5. Never an exponent; "-0" is written "0". Non-finite values (which no
// format here can hold) are written "null".
std::string plain_decimal(double value, int decimals);

// `value` rounded to `decimals` places (as a double).
double round_to(double value, int decimals);

// Money for people: "$0.08", "$12.50", "-$0.30".
std::string usd_text(double usd);

// A duration for people, to the millisecond: "6.768 s".
std::string seconds_text(double seconds);

}  // namespace lipsyncd
