#pragma once
// JSON text for files and output people and scripts read (sidecars, error reports, `check
// --json`, `status --json`). Boost.JSON writes doubles in exponent form (4.53E0, 5.3E-2);
// json_text() writes the same document with every double in plain decimal notation.

#include <boost/json/value.hpp>
#include <string>

namespace lipsyncd {

// Like boost::json::serialize(), but doubles are plain decimals: the shortest digits that read
// back as the same double, always with a decimal point so they read back as doubles (4.53,
// 0.053, 600.0). Non-finite doubles become null.
std::string json_text(const boost::json::value& value);

// A JSON number rounded to `decimals` places (null when not finite), e.g.
// json_decimal(cost, kUsdDecimals).
boost::json::value json_decimal(double value, int decimals);

}  // namespace lipsyncd
