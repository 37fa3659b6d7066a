#pragma once
// Whether a file's own structure says where it ends and all of it is there: what lets intake
// take a freshly closed file at once instead of waiting settle_s (see settle_rule.hpp).
// Only formats with a declared length qualify; everything else answers false, which is
// always safe (the file then waits settle_s of quiet).

#include <filesystem>

namespace lipsyncd::intake {

// True for:
//  - ISO base media (MP4, MOV, M4A): the top-level boxes tile the file exactly, with one moov
//    and one mdat and no fragments (a box "to the end of the file" declares nothing);
//  - RIFF (WAV, AVI): the RIFF chunk's size is the file's size;
//  - JSON manifests (*.json, up to 1 MiB): the text parses as one JSON object.
// Never blocks: a file that is not a regular file answers false without being opened for
// reading of its contents.
bool declares_its_own_end(const std::filesystem::path& file);

}  // namespace lipsyncd::intake
