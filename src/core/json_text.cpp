#include "lipsyncd/core/json_text.hpp"

#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>

#include "lipsyncd/core/number_format.hpp"

namespace lipsyncd {
namespace {

namespace json = boost::json;

void append_double(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  // The shortest fixed-notation digits that read back as the same double.
  char buffer[400];
  const auto [end, error] =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed);
  if (error != std::errc()) {
    out += plain_decimal(value, 17);
    return;
  }
  std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
  if (text == "-0") text = "0";
  out += text;
  // A double stays a double for whoever reads it back (600.0, not 600).
  if (text.find('.') == std::string_view::npos) out += ".0";
}

void append(std::string& out, const json::value& value) {
  switch (value.kind()) {
    case json::kind::double_:
      append_double(out, value.get_double());
      return;
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, member] : value.get_object()) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::string_view(key));
        out += ':';
        append(out, member);
      }
      out += '}';
      return;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& element : value.get_array()) {
        if (!first) out += ',';
        first = false;
        append(out, element);
      }
      out += ']';
      return;
    }
    default:  // strings, integers, booleans and null are written as Boost.JSON writes them
      out += json::serialize(value);
      return;
  }
}

}  // namespace

std::string json_text(const json::value& value) {
  std::string out;
  append(out, value);
  return out;
}

json::value json_decimal(double value, int decimals) {
  if (!std::isfinite(value)) return nullptr;
  return round_to(value, decimals);
}

}  // namespace lipsyncd
