// Hdf5File: opening, creating and closing files, groups and their members, and the helpers the
// other parts of the layer share (core/hdf5_internal.h).
#include "core/hdf5_file.h"

#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>
#include <utility>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/hdf5_internal.h"
#include "core/text.h"

namespace shardlab {
namespace hdf5_internal {
namespace {

herr_t take_innermost(unsigned n, const H5E_error2_t* error, void* data) {
  if (n == 0 && error->desc != nullptr) *static_cast<std::string*>(data) = error->desc;
  return 0;
}

}  // namespace

std::string hdf5_reason() {
  std::string reason;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &reason);
  for (char& c : reason)
    if (c == '\n' || c == '\r') c = ' ';
  while (!reason.empty() && reason.back() == ' ') reason.pop_back();
  return reason;
}

Id checksummed_creation(hid_t plist_class) {
  Id plist(H5Pcreate(plist_class));
  constexpr unsigned kMaxCompact = 65535;  // HDF5's largest
  H5Pset_attr_phase_change(plist.get(), kMaxCompact, kMaxCompact - 1);
  if (plist_class != H5P_DATASET_CREATE) H5Pset_link_phase_change(plist.get(), kMaxCompact, kMaxCompact - 1);
  return plist;
}

std::string quoted(const std::string& object) { return "'" + object + "'"; }

std::string normalized(const std::string& object) {
  size_t begin = object.find_first_not_of('/');
  if (begin == std::string::npos) return "";
  size_t end = object.find_last_not_of('/');
  return object.substr(begin, end - begin + 1);
}

std::string display_name(const std::string& object) {
  std::string n = normalized(object);
  return n.empty() ? "/" : n;
}

Id make_bool_type(hid_t base) {
  Id type(H5Tenum_create(base));
  if (!type.ok()) return type;
  const int8_t false_value = 0, true_value = 1;
  if (H5Tenum_insert(type.get(), "FALSE", &false_value) < 0 || H5Tenum_insert(type.get(), "TRUE", &true_value) < 0)
    return Id();
  return type;
}

std::vector<int64_t> dimensions(hid_t space) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank <= 0) return {};
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

int64_t element_count(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || (d > 0 && n > std::numeric_limits<int64_t>::max() / d)) return -1;
    n *= d;
  }
  return n;
}

int64_t load_signed(const unsigned char* p, size_t size) {
  switch (size) {
    case 1: {
      int8_t v;
      std::memcpy(&v, p, 1);
      return v;
    }
    case 2: {
      int16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case 4: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    default: {
      int64_t v;
      std::memcpy(&v, p, 8);
      return v;
    }
  }
}

uint64_t load_unsigned(const unsigned char* p, size_t size) {
  switch (size) {
    case 1:
      return *p;
    case 2: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    default: {
      uint64_t v;
      std::memcpy(&v, p, 8);
      return v;
    }
  }
}

std::string format_number(double value) {
  std::ostringstream out;
  out.precision(10);
  out << value;
  return out.str();
}

}  // namespace hdf5_internal

using namespace hdf5_internal;

const char* hdf5_type_name(Hdf5Type type) {
  switch (type) {
    case Hdf5Type::kFloat32:
      return "float32";
    case Hdf5Type::kFloat64:
      return "float64";
    case Hdf5Type::kInt8:
      return "int8";
    case Hdf5Type::kInt32:
      return "int32";
    case Hdf5Type::kInt64:
      return "int64";
    case Hdf5Type::kUint8:
      return "uint8";
    case Hdf5Type::kBool:
      return "bool";
  }
  return "unknown";
}

std::string format_shape(const std::vector<int64_t>& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

void Hdf5File::Impl::fail(const std::string& what, bool with_reason) const {
  // A file being written is named as the user knows it, not by its temporary name.
  std::string message = final_name_of(path) + ": " + what;
  if (with_reason) {
    const std::string reason = hdf5_reason();
    if (reason.find("checksum") != std::string::npos)
      throw CorruptFile(message + ": a checksum does not match, the file is corrupted");
    for (const char* full : {"No space left on device", "Disk quota exceeded"})
      if (reason.find(full) != std::string::npos) throw StorageError(message + ": " + full);
    if (!reason.empty()) message += " (HDF5: " + reason + ")";
  }
  throw FileError(message);
}

hid_t Hdf5File::Impl::id() const {
  if (file < 0) throw FileError(path + ": file is closed");
  return file;
}

void Hdf5File::Impl::require_writable(const std::string& what) const {
  id();
  if (!writable) fail("opened read-only, cannot " + what, false);
}

bool Hdf5File::Impl::link_exists(const std::string& object) const {
  const std::string name = normalized(object);
  if (name.empty()) return true;
  size_t pos = 0;
  while (true) {
    pos = name.find('/', pos);
    const std::string prefix = name.substr(0, pos);
    const htri_t exists = H5Lexists(id(), prefix.c_str(), H5P_DEFAULT);
    if (exists == 0) return false;
    if (exists < 0) {
      // Under a dataset nothing exists; under a group that cannot be read, we cannot tell.
      const size_t slash = prefix.find_last_of('/');
      if (slash != std::string::npos) {
        Id parent(H5Oopen(id(), prefix.substr(0, slash).c_str(), H5P_DEFAULT));
        if (parent.ok() && H5Iget_type(parent.get()) != H5I_GROUP) return false;
      }
      fail("cannot look up " + quoted(display_name(prefix)));
    }
    if (pos == std::string::npos) return true;
    ++pos;
  }
}

H5I_type_t Hdf5File::Impl::object_type(const std::string& object) const {
  if (!link_exists(object)) return H5I_BADID;
  const std::string name = normalized(object);
  Id handle(H5Oopen(id(), name.empty() ? "/" : name.c_str(), H5P_DEFAULT));
  if (!handle.ok()) fail("cannot open " + quoted(display_name(object)));  // linked, but unreadable
  return H5Iget_type(handle.get());
}

Id Hdf5File::Impl::open_object(const std::string& object) const {
  const std::string name = normalized(object);
  if (!link_exists(object)) fail("object " + quoted(display_name(object)) + " missing", false);
  Id handle(H5Oopen(id(), name.empty() ? "/" : name.c_str(), H5P_DEFAULT));
  if (!handle.ok()) fail("cannot open object " + quoted(display_name(object)));
  return handle;
}

Id Hdf5File::Impl::open_dataset(const std::string& dataset) const {
  const std::string name = normalized(dataset);
  if (!link_exists(dataset)) fail("dataset " + quoted(name) + " missing", false);
  Id handle(H5Oopen(id(), name.c_str(), H5P_DEFAULT));
  if (!handle.ok()) fail("cannot open dataset " + quoted(name));
  if (H5Iget_type(handle.get()) != H5I_DATASET) fail(quoted(name) + " is not a dataset", false);
  return handle;
}

Id Hdf5File::Impl::open_group(const std::string& group) const {
  Id handle = open_object(group);
  if (H5Iget_type(handle.get()) != H5I_GROUP) fail(quoted(display_name(group)) + " is not a group", false);
  return handle;
}

Hdf5File::Hdf5File(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Hdf5File::Hdf5File(Hdf5File&& other) noexcept = default;

Hdf5File& Hdf5File::operator=(Hdf5File&& other) noexcept {
  if (this != &other) {
    try {
      close();
    } catch (const Error&) {
    }
    impl_ = std::move(other.impl_);
  }
  return *this;
}

namespace {
std::atomic<bool> g_objects_left_open{false};
}  // namespace

void hdf5_internal::note_object_left_open() { g_objects_left_open = true; }
bool hdf5_objects_left_open() { return g_objects_left_open; }

Hdf5File::~Hdf5File() {
  if (!impl_ || impl_->file < 0) return;
  quiet();
  impl_->append_targets.clear();
  if (H5Fclose(impl_->file) < 0) note_object_left_open();
  impl_->file = -1;
}

Hdf5File::Impl& Hdf5File::impl() const {
  if (!impl_) throw FileError("HDF5 file handle was moved from");
  return *impl_;
}

namespace {

// Closing a file closes everything still open in it, so nothing keeps it half-open after close().
Id strong_close_access() {
  Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  return fapl;
}

}  // namespace

Hdf5File Hdf5File::open(const std::string& path) {
  quiet();
  struct stat status;
  if (::stat(path.c_str(), &status) != 0)
    throw FileError(path + ": " + (errno == ENOENT ? std::string("no such file") : std::strerror(errno)));
  if (S_ISDIR(status.st_mode)) throw FileError(path + ": is a directory, not an HDF5 file");
  if (!S_ISREG(status.st_mode)) check_regular_file(path);  // a FIFO is not "an empty file"
  if (status.st_size == 0) throw FileError(path + ": empty file (0 bytes), not an HDF5 file");
  if (::access(path.c_str(), R_OK) != 0) throw FileError(path + ": " + std::strerror(errno));

  Id fapl = strong_close_access();
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (file < 0) {
    const std::string reason = hdf5_reason();
    unsigned long long eof = 0, base = 0, stored = 0;
    if (reason.find("signature") != std::string::npos) throw FileError(path + ": not an HDF5 file");
    if (std::sscanf(reason.c_str(), "truncated file: eof = %llu, sblock->base_addr = %llu, stored_eof = %llu", &eof,
                    &base, &stored) == 3)
      throw FileError(path + ": truncated HDF5 file (" + std::to_string(status.st_size) + " bytes, the file says " +
                      std::to_string(stored) + ")");
    throw FileError(path + ": cannot open as HDF5" + (reason.empty() ? "" : " (HDF5: " + reason + ")"));
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->file = file;
  return Hdf5File(std::move(impl));
}

namespace {

hid_t create_file(const std::string& path, unsigned flags) {
  quiet();
  Id fapl = strong_close_access();
  // The 1.10 file format checksums every piece of metadata (superblock, object headers, chunk
  // indexes), so a flipped byte is a read error, not a silently different file. Readable by HDF5
  // 1.10 and later (h5py built on 1.10+); the oldest format (superblock 0) has no checksums.
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110);
  Id fcpl = checksummed_creation(H5P_FILE_CREATE);
  // Whether the file was there before: on a full disk H5Fcreate makes the file, fails to write
  // its superblock, and leaves it behind, which is not "already exists".
  struct stat status;
  const bool existed = ::stat(path.c_str(), &status) == 0;
  const hid_t file = H5Fcreate(path.c_str(), flags, fcpl.get(), fapl.get());
  if (file >= 0) return file;
  const std::string reason = hdf5_reason();
  if ((flags & H5F_ACC_EXCL) && existed) throw FileError(path + ": already exists");
  for (const char* full : {"No space left on device", "Disk quota exceeded"})
    if (reason.find(full) != std::string::npos) {
      // The file is this call's own (it got as far as writing): remove what it left.
      if (!existed) ::unlink(path.c_str());
      throw StorageError(final_name_of(path) + ": cannot create HDF5 file: " + full);
    }
  throw FileError(path + ": cannot create HDF5 file" + (reason.empty() ? "" : " (HDF5: " + reason + ")"));
}

}  // namespace

Hdf5File Hdf5File::create(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->file = create_file(path, H5F_ACC_TRUNC);
  impl->writable = true;
  return Hdf5File(std::move(impl));
}

Hdf5File Hdf5File::create_new(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->file = create_file(path, H5F_ACC_EXCL);
  impl->writable = true;
  return Hdf5File(std::move(impl));
}

void Hdf5File::close() {
  if (!impl_ || impl_->file < 0) return;
  quiet();
  impl_->append_targets.clear();
  const herr_t status = H5Fclose(impl_->file);
  impl_->file = -1;
  if (status < 0) {
    note_object_left_open();
    impl_->fail("cannot close (flush) the file");
  }
}

bool Hdf5File::is_open() const { return impl_ && impl_->file >= 0; }

const std::string& Hdf5File::path() const { return impl().path; }

bool Hdf5File::has_group(const std::string& object) const {
  quiet();
  return impl().object_type(object) == H5I_GROUP;
}

bool Hdf5File::has_dataset(const std::string& object) const {
  quiet();
  return !normalized(object).empty() && impl().object_type(object) == H5I_DATASET;
}

std::vector<std::string> Hdf5File::member_names(const std::string& group) const {
  quiet();
  Id handle = impl().open_group(group);
  H5G_info_t info;
  if (H5Gget_info(handle.get(), &info) < 0) impl().fail("cannot list group " + quoted(display_name(group)));
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length =
        H5Lget_name_by_idx(handle.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (length < 0) impl().fail("cannot list group " + quoted(display_name(group)));
    std::string name(static_cast<size_t>(length) + 1, '\0');
    H5Lget_name_by_idx(handle.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<size_t>(length));
    names.push_back(name);
  }
  return names;
}

void Hdf5File::create_group(const std::string& group) {
  quiet();
  Impl& m = impl();
  const std::string name = normalized(group);
  m.require_writable("create group " + quoted(name));
  if (name.empty()) return;
  const H5I_type_t existing = m.object_type(name);
  if (existing == H5I_GROUP) return;
  if (m.link_exists(name)) m.fail(quoted(name) + " exists and is not a group", false);
  m.create_parents(name);
  Id gcpl = checksummed_creation(H5P_GROUP_CREATE);
  Id handle(H5Gcreate2(m.id(), name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT));
  if (!handle.ok()) m.fail("cannot create group " + quoted(name));
}

void Hdf5File::Impl::create_parents(const std::string& object) {
  Id gcpl = checksummed_creation(H5P_GROUP_CREATE);
  for (size_t slash = object.find('/'); slash != std::string::npos; slash = object.find('/', slash + 1)) {
    const std::string parent = object.substr(0, slash);
    const H5I_type_t existing = object_type(parent);
    if (existing == H5I_GROUP) continue;
    if (link_exists(parent)) fail(quoted(parent) + " exists and is not a group", false);
    Id handle(H5Gcreate2(id(), parent.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT));
    if (!handle.ok()) fail("cannot create group " + quoted(parent));
  }
}

}  // namespace shardlab
