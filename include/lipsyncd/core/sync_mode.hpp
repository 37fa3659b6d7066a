#pragma once
// The ways fal's sync-lipsync model reconciles a video and an audio of different lengths.

#include <array>
#include <optional>
#include <string_view>

namespace lipsyncd {

enum class SyncMode { cut_off, loop, bounce, silence, remap };

inline constexpr std::array<SyncMode, 5> kAllSyncModes = {
    SyncMode::cut_off, SyncMode::loop, SyncMode::bounce, SyncMode::silence, SyncMode::remap};

std::string_view to_string(SyncMode mode) noexcept;
// The wire name ("cut_off", "loop", ...) or nothing when the name is unknown.
std::optional<SyncMode> parse_sync_mode(std::string_view name) noexcept;

}  // namespace lipsyncd
