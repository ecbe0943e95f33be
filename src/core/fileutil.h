// Small file helpers shared by readers and writers.
#pragma once
#include <string>

namespace zaya {

std::string read_file(const std::string& path);  // throws zaya::Error naming the path
// Writes `data` to path atomically: path.tmp, fsync, rename, fsync of the directory.
void write_file_atomic(const std::string& path, const std::string& data);
bool file_exists(const std::string& path);
std::string path_join(const std::string& a, const std::string& b);

}  // namespace zaya
