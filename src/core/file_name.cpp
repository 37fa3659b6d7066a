#include "lipsyncd/core/file_name.hpp"

#include <algorithm>

namespace lipsyncd {
namespace {

bool is_continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

std::string utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t end = max_bytes;
  while (end > 0 && is_continuation_byte(text[end])) --end;
  return std::string(text.substr(0, end));
}

std::string fit_file_name(std::string_view name, std::size_t keep_tail, std::size_t max_bytes) {
  if (name.size() <= max_bytes) return std::string(name);
  keep_tail = std::min({keep_tail, name.size(), max_bytes});
  const auto tail = name.substr(name.size() - keep_tail);
  const auto head = name.substr(0, name.size() - keep_tail);
  return utf8_prefix(head, max_bytes - keep_tail) + std::string(tail);
}

std::string hidden_temporary_name(std::string_view name, std::string_view suffix) {
  const std::size_t room = kMaxFileNameBytes - 1 - std::min(suffix.size(), kMaxFileNameBytes - 1);
  return "." + utf8_prefix(name, room) + std::string(suffix);
}

}  // namespace lipsyncd
