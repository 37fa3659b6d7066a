#include "lipsyncd/observe/log_fields.hpp"

#include <cctype>

namespace lipsyncd::observe {
namespace {

thread_local const LogFields* current_fields = nullptr;

}  // namespace

const LogFields* current_log_fields() noexcept {
  return current_fields;
}

ScopedLogFields::ScopedLogFields(const LogFields& fields) noexcept : previous_(current_fields) {
  current_fields = &fields;
}

ScopedLogFields::~ScopedLogFields() {
  current_fields = previous_;
}

std::string journal_field_name(const std::string& key) {
  // journald ignores fields that start with '_' (trusted fields) or a digit.
  const bool needs_prefix =
      key.empty() || std::isalpha(static_cast<unsigned char>(key.front())) == 0;
  std::string name = needs_prefix ? "F_" : "";
  for (const char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    name += std::isalnum(byte) != 0 ? static_cast<char>(std::toupper(byte)) : '_';
  }
  return name;
}

}  // namespace lipsyncd::observe
