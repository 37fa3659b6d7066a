#include "lipsyncd/core/number_format.hpp"

#include <cmath>
#include <cstdio>

namespace lipsyncd {

std::string plain_decimal(double value, int decimals) {
  if (!std::isfinite(value)) return "null";
  // 'f' never switches to an exponent, whatever the magnitude.
  char buffer[400];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  std::string text = buffer;
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  if (text == "-0") text = "0";
  return text;
}

double round_to(double value, int decimals) {
  if (!std::isfinite(value)) return value;
  const double scale = std::pow(10.0, decimals);
  const double rounded = std::round(value * scale) / scale;
  return rounded == 0 ? 0.0 : rounded;  // no -0
}

std::string usd_text(double usd) {
  const double cents = round_to(usd, 2);
  char buffer[400];
  std::snprintf(buffer, sizeof buffer, "%s$%.2f", cents < 0 ? "-" : "", std::fabs(cents));
  return buffer;
}

std::string seconds_text(double seconds) {
  char buffer[400];
  std::snprintf(buffer, sizeof buffer, "%.3f s", round_to(seconds, kSecondsDecimals));
  return buffer;
}

}  // namespace lipsyncd
