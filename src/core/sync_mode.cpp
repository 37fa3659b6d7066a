#include "lipsyncd/core/sync_mode.hpp"

#include <algorithm>

namespace lipsyncd {

std::string_view to_string(SyncMode mode) noexcept {
  switch (mode) {
    case SyncMode::cut_off: return "cut_off";
    case SyncMode::loop: return "loop";
    case SyncMode::bounce: return "bounce";
    case SyncMode::silence: return "silence";
    case SyncMode::remap: return "remap";
  }
  return "cut_off";
}

std::optional<SyncMode> parse_sync_mode(std::string_view name) noexcept {
  for (SyncMode mode : kAllSyncModes) {
    if (to_string(mode) == name) return mode;
  }
  return std::nullopt;
}

}  // namespace lipsyncd
