#include "core/hdf5_file.h"

#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <new>
#include <sstream>
#include <type_traits>
#include <utility>

#include "core/error.h"

namespace shardlab {
namespace {

// Groups nested deeper than this are not listed; it also stops hard-link cycles.
constexpr int kMaxListDepth = 64;
// Arrays in a listing show this many values, then "...".
constexpr size_t kMaxListedValues = 16;

// HDF5 prints its error stack to stderr by default. The setting is per thread in thread-safe
// builds (Debian's), so every entry point turns it off again; it costs a few nanoseconds.
void quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// Owns one HDF5 id (dataset, group, dataspace, datatype, property list, attribute).
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  Id(Id&& other) noexcept : id_(std::exchange(other.id_, -1)) {}
  Id& operator=(Id&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, -1);
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() { reset(); }

  void reset() {
    if (id_ >= 0) H5Idec_ref(id_);
    id_ = -1;
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
};

herr_t take_innermost(unsigned n, const H5E_error2_t* error, void* data) {
  if (n == 0 && error->desc != nullptr) *static_cast<std::string*>(data) = error->desc;
  return 0;
}

// What HDF5 said about the failure that just happened (its innermost message), on one line.
std::string hdf5_reason() {
  std::string reason;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &reason);
  for (char& c : reason)
    if (c == '\n' || c == '\r') c = ' ';
  while (!reason.empty() && reason.back() == ' ') reason.pop_back();
  return reason;
}

std::string quoted(const std::string& object) { return "'" + object + "'"; }

// "/a/b" and "a/b" name the same object; "" and "/" the root.
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

// The in-memory HDF5 type of the element types the layer reads and appends.
template <typename T>
hid_t memory_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  if constexpr (std::is_same_v<T, int8_t>) return H5T_NATIVE_INT8;
  if constexpr (std::is_same_v<T, uint8_t>) return H5T_NATIVE_UINT8;
  if constexpr (std::is_same_v<T, int32_t>) return H5T_NATIVE_INT32;
  if constexpr (std::is_same_v<T, int64_t>) return H5T_NATIVE_INT64;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int8_t> ||
                    std::is_same_v<T, uint8_t> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>,
                "Hdf5File reads and appends float, double, int8_t, uint8_t, int32_t and int64_t");
}

// The enum h5py uses for numpy bool, over `base` (H5T_STD_I8LE on disk, H5T_NATIVE_INT8 in memory).
Id make_bool_type(hid_t base) {
  Id type(H5Tenum_create(base));
  if (!type.ok()) return type;
  const int8_t false_value = 0, true_value = 1;
  if (H5Tenum_insert(type.get(), "FALSE", &false_value) < 0 || H5Tenum_insert(type.get(), "TRUE", &true_value) < 0)
    return Id();
  return type;
}

bool is_bool_enum(hid_t type) {
  if (H5Tget_class(type) != H5T_ENUM || H5Tget_nmembers(type) != 2 || H5Tget_size(type) != 1) return false;
  bool ok = true;
  for (unsigned i = 0; i < 2; ++i) {
    char* name = H5Tget_member_name(type, i);
    int8_t value = -1;
    if (name == nullptr || H5Tget_member_value(type, i, &value) < 0) {
      ok = false;
    } else {
      const char* expected = value == 0 ? "FALSE" : value == 1 ? "TRUE" : nullptr;
      ok = ok && expected != nullptr && std::strcmp(name, expected) == 0;
    }
    if (name != nullptr) H5free_memory(name);
  }
  return ok;
}

std::string type_name(hid_t type) {
  const size_t bits = H5Tget_size(type) * 8;
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_FLOAT:
      return "float" + std::to_string(bits);
    case H5T_ENUM: {
      if (is_bool_enum(type)) return "bool";
      Id base(H5Tget_super(type));
      return "enum(" + (base.ok() ? type_name(base.get()) : std::string("?")) + ")";
    }
    case H5T_STRING:
      return H5Tis_variable_str(type) > 0 ? "string" : "string[" + std::to_string(H5Tget_size(type)) + "]";
    case H5T_COMPOUND:
      return "compound";
    case H5T_ARRAY:
      return "array";
    case H5T_OPAQUE:
      return "opaque";
    case H5T_REFERENCE:
      return "reference";
    case H5T_VLEN:
      return "vlen";
    case H5T_BITFIELD:
      return "bitfield";
    case H5T_TIME:
      return "time";
    default:
      return "unknown";
  }
}

Hdf5Class class_of(hid_t type) {
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return Hdf5Class::kInteger;
    case H5T_FLOAT:
      return Hdf5Class::kFloat;
    case H5T_ENUM:
      return is_bool_enum(type) ? Hdf5Class::kBool : Hdf5Class::kInteger;
    case H5T_STRING:
      return Hdf5Class::kString;
    default:
      return Hdf5Class::kOther;
  }
}

// The dimensions of a dataspace; a scalar has none.
std::vector<int64_t> dimensions(hid_t space) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank <= 0) return {};
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

// Product of dims, or -1 if it overflows.
int64_t element_count(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || (d > 0 && n > std::numeric_limits<int64_t>::max() / d)) return -1;
    n *= d;
  }
  return n;
}

// Reads one integer of `size` bytes from raw memory in native byte order.
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

std::string escaped(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string join_values(const std::vector<std::string>& values, bool scalar) {
  if (scalar && values.size() == 1) return values[0];
  std::string out = "[";
  for (size_t i = 0; i < values.size() && i < kMaxListedValues; ++i) out += (i ? ", " : "") + values[i];
  if (values.size() > kMaxListedValues) out += ", ... (" + std::to_string(values.size()) + " values)";
  return out + "]";
}

std::string filter_name(H5Z_filter_t id, const unsigned* values, size_t count, const char* name) {
  switch (id) {
    case H5Z_FILTER_DEFLATE:
      return count > 0 ? "gzip " + std::to_string(values[0]) : "gzip";
    case H5Z_FILTER_SHUFFLE:
      return "shuffle";
    case H5Z_FILTER_FLETCHER32:
      return "fletcher32";
    case H5Z_FILTER_SZIP:
      return "szip";
    case H5Z_FILTER_NBIT:
      return "nbit";
    case H5Z_FILTER_SCALEOFFSET:
      return "scaleoffset";
    default:
      return name[0] != '\0' ? std::string(name) : "filter " + std::to_string(id);
  }
}

}  // namespace

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

struct Hdf5File::Impl {
  // A dataset kept open while it is being appended to, so its chunk cache keeps the partly
  // filled last chunk instead of compressing and rewriting it on every append.
  struct AppendTarget {
    Id dataset;
    int64_t rows = 0;
    std::vector<int64_t> row_shape;
    int64_t row_size = 1;
    bool is_bool = false;
  };

  std::string path;
  hid_t file = -1;
  bool writable = false;
  std::map<std::string, AppendTarget> append_targets;  // by normalized path

  [[noreturn]] void fail(const std::string& what, bool with_reason = true) const {
    std::string message = path + ": " + what;
    if (with_reason) {
      const std::string reason = hdf5_reason();
      if (!reason.empty()) message += " (HDF5: " + reason + ")";
    }
    throw FileError(message);
  }

  hid_t id() const {
    if (file < 0) throw FileError(path + ": file is closed");
    return file;
  }

  void require_writable(const std::string& what) const {
    id();
    if (!writable) fail("opened read-only, cannot " + what, false);
  }

  // True if every link on the way to `object` exists (the root always does).
  bool link_exists(const std::string& object) const {
    const std::string name = normalized(object);
    if (name.empty()) return true;
    size_t pos = 0;
    while (true) {
      pos = name.find('/', pos);
      const std::string prefix = name.substr(0, pos);
      if (H5Lexists(id(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
      if (pos == std::string::npos) return true;
      ++pos;
    }
  }

  H5I_type_t object_type(const std::string& object) const {
    if (!link_exists(object)) return H5I_BADID;
    const std::string name = normalized(object);
    Id handle(H5Oopen(id(), name.empty() ? "/" : name.c_str(), H5P_DEFAULT));
    return handle.ok() ? H5Iget_type(handle.get()) : H5I_BADID;
  }

  Id open_object(const std::string& object) const {
    const std::string name = normalized(object);
    if (!link_exists(object)) fail("object " + quoted(display_name(object)) + " missing", false);
    Id handle(H5Oopen(id(), name.empty() ? "/" : name.c_str(), H5P_DEFAULT));
    if (!handle.ok()) fail("cannot open object " + quoted(display_name(object)));
    return handle;
  }

  Id open_dataset(const std::string& dataset) const {
    const std::string name = normalized(dataset);
    if (!link_exists(dataset)) fail("dataset " + quoted(name) + " missing", false);
    Id handle(H5Oopen(id(), name.c_str(), H5P_DEFAULT));
    if (!handle.ok()) fail("cannot open dataset " + quoted(name));
    if (H5Iget_type(handle.get()) != H5I_DATASET) fail(quoted(name) + " is not a dataset", false);
    return handle;
  }

  Id open_group(const std::string& group) const {
    Id handle = open_object(group);
    if (H5Iget_type(handle.get()) != H5I_GROUP) fail(quoted(display_name(group)) + " is not a group", false);
    return handle;
  }

  AppendTarget& append_target(const std::string& dataset) {
    require_writable("append to " + quoted(normalized(dataset)));
    const std::string name = normalized(dataset);
    auto found = append_targets.find(name);
    if (found != append_targets.end()) return found->second;
    AppendTarget target;
    target.dataset = open_dataset(name);
    Id space(H5Dget_space(target.dataset.get()));
    Id type(H5Dget_type(target.dataset.get()));
    const std::vector<int64_t> dims = dimensions(space.get());
    if (dims.empty()) fail("dataset " + quoted(name) + " is scalar, cannot append rows", false);
    target.rows = dims[0];
    target.row_shape.assign(dims.begin() + 1, dims.end());
    target.row_size = element_count(target.row_shape);
    target.is_bool = is_bool_enum(type.get());
    return append_targets.emplace(name, std::move(target)).first->second;
  }

  template <typename T>
  void append(const std::string& dataset, const T* data, int64_t rows) {
    AppendTarget& target = append_target(dataset);
    const std::string name = normalized(dataset);
    if (rows < 0) fail("cannot append " + std::to_string(rows) + " rows to " + quoted(name), false);
    if (rows == 0) return;
    std::vector<hsize_t> dims{static_cast<hsize_t>(target.rows + rows)};
    for (int64_t d : target.row_shape) dims.push_back(static_cast<hsize_t>(d));
    if (H5Dset_extent(target.dataset.get(), dims.data()) < 0) fail("cannot extend dataset " + quoted(name));
    const int64_t first_row = target.rows;
    target.rows += rows;

    Id file_space(H5Dget_space(target.dataset.get()));
    std::vector<hsize_t> start(dims.size(), 0), count(dims);
    start[0] = static_cast<hsize_t>(first_row);
    count[0] = static_cast<hsize_t>(rows);
    const hsize_t values = static_cast<hsize_t>(rows * target.row_size);
    // The memory space has the selection's shape: with a flat one HDF5 maps every element to
    // its chunk one by one, several times slower.
    Id memory_space(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr));
    if (!file_space.ok() || !memory_space.ok() ||
        H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0)
      fail("cannot select rows of dataset " + quoted(name));

    herr_t status;
    if (target.is_bool) {
      // The enum conversion rejects values other than 0 and 1, so normalise first.
      std::vector<int8_t> flags(values);
      for (hsize_t i = 0; i < values; ++i) flags[i] = data[i] != T(0) ? 1 : 0;
      Id bool_type = make_bool_type(H5T_NATIVE_INT8);
      status = H5Dwrite(target.dataset.get(), bool_type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT,
                        flags.data());
    } else {
      status =
          H5Dwrite(target.dataset.get(), memory_type<T>(), memory_space.get(), file_space.get(), H5P_DEFAULT, data);
    }
    if (status < 0) fail("cannot write " + std::to_string(rows) + " rows to dataset " + quoted(name));
  }

  template <typename T>
  Hdf5Array<T> read(const std::string& dataset, const std::vector<int64_t>* start,
                    const std::vector<int64_t>* count) const {
    const std::string name = normalized(dataset);
    Id handle = open_dataset(name);
    Id file_space(H5Dget_space(handle.get()));
    if (!file_space.ok()) fail("cannot read the shape of dataset " + quoted(name));
    if (H5Sget_simple_extent_type(file_space.get()) == H5S_NULL)
      fail("dataset " + quoted(name) + " has a null dataspace (no values)", false);
    const std::vector<int64_t> dims = dimensions(file_space.get());

    Hdf5Array<T> out;
    if (start != nullptr) {
      bool fits = start->size() == dims.size() && count->size() == dims.size();
      for (size_t i = 0; fits && i < dims.size(); ++i)
        fits = (*start)[i] >= 0 && (*count)[i] >= 0 && (*start)[i] + (*count)[i] <= dims[i];
      if (!fits)
        fail("dataset " + quoted(name) + " has shape " + format_shape(dims) + ", cannot read the slab at " +
                 format_shape(*start) + " of shape " + format_shape(*count),
             false);
      out.shape = *count;
    } else {
      out.shape = dims;
    }
    const int64_t n = element_count(out.shape);
    if (n < 0) fail("dataset " + quoted(name) + " has an impossible shape " + format_shape(out.shape), false);
    try {
      out.data.resize(static_cast<size_t>(n));
    } catch (const std::bad_alloc&) {
      fail("dataset " + quoted(name) + " of shape " + format_shape(out.shape) + " is too large to read into memory",
           false);
    } catch (const std::length_error&) {
      fail("dataset " + quoted(name) + " of shape " + format_shape(out.shape) + " is too large to read into memory",
           false);
    }
    if (n == 0) return out;

    if (start != nullptr && !dims.empty()) {
      std::vector<hsize_t> s(start->begin(), start->end()), c(count->begin(), count->end());
      if (H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, s.data(), nullptr, c.data(), nullptr) < 0)
        fail("cannot select a slab of dataset " + quoted(name));
    }
    // Shaped like the selection (see append).
    std::vector<hsize_t> memory_dims(out.shape.begin(), out.shape.end());
    Id memory_space(memory_dims.empty()
                        ? H5Screate(H5S_SCALAR)
                        : H5Screate_simple(static_cast<int>(memory_dims.size()), memory_dims.data(), nullptr));
    Id file_type(H5Dget_type(handle.get()));
    switch (H5Tget_class(file_type.get())) {
      case H5T_INTEGER:
      case H5T_FLOAT:
        if (H5Dread(handle.get(), memory_type<T>(), memory_space.get(), file_space.get(), H5P_DEFAULT,
                    out.data.data()) < 0)
          fail("cannot read dataset " + quoted(name));
        break;
      case H5T_ENUM: {
        // HDF5 converts enums only to enums; read the enum's integers and convert them here.
        Id native(H5Tget_native_type(file_type.get(), H5T_DIR_ASCEND));
        Id base(H5Tget_super(native.get()));
        const size_t size = H5Tget_size(base.get());
        const bool is_signed = H5Tget_sign(base.get()) != H5T_SGN_NONE;
        std::vector<unsigned char> raw;
        try {
          raw.resize(static_cast<size_t>(n) * size);
        } catch (const std::bad_alloc&) {
          fail("dataset " + quoted(name) + " is too large to read into memory", false);
        }
        if (H5Dread(handle.get(), native.get(), memory_space.get(), file_space.get(), H5P_DEFAULT, raw.data()) < 0)
          fail("cannot read dataset " + quoted(name));
        for (int64_t i = 0; i < n; ++i) {
          const unsigned char* p = raw.data() + i * size;
          out.data[i] = is_signed ? static_cast<T>(load_signed(p, size)) : static_cast<T>(load_unsigned(p, size));
        }
        break;
      }
      default:
        fail("dataset " + quoted(name) + " has dtype " + type_name(file_type.get()) + ", not numbers", false);
    }
    return out;
  }

  Id open_attribute(const std::string& object, const std::string& name) const {
    Id owner = open_object(object);
    const htri_t exists = H5Aexists(owner.get(), name.c_str());
    if (exists <= 0) fail("attribute " + quoted(name) + " of " + quoted(display_name(object)) + " missing", false);
    Id attribute(H5Aopen(owner.get(), name.c_str(), H5P_DEFAULT));
    if (!attribute.ok()) fail("cannot open attribute " + quoted(name) + " of " + quoted(display_name(object)));
    return attribute;
  }

  void write_attribute(const std::string& object, const std::string& name, hid_t file_type, hid_t memory, hid_t space,
                       const void* data) {
    require_writable("set attribute " + quoted(name));
    Id owner = open_object(object);
    if (H5Aexists(owner.get(), name.c_str()) > 0 && H5Adelete(owner.get(), name.c_str()) < 0)
      fail("cannot replace attribute " + quoted(name) + " of " + quoted(display_name(object)));
    Id attribute(H5Acreate2(owner.get(), name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT));
    if (!attribute.ok() || H5Awrite(attribute.get(), memory, data) < 0)
      fail("cannot write attribute " + quoted(name) + " of " + quoted(display_name(object)));
  }

  // An attribute's values as strings (string attributes only).
  std::vector<std::string> attribute_strings(hid_t attribute, const std::string& what) const {
    Id type(H5Aget_type(attribute));
    Id space(H5Aget_space(attribute));
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    std::vector<std::string> out;
    if (n <= 0) return out;
    if (H5Tis_variable_str(type.get()) > 0) {
      Id memory(H5Tcopy(H5T_C_S1));
      H5Tset_size(memory.get(), H5T_VARIABLE);
      H5Tset_cset(memory.get(), H5Tget_cset(type.get()));
      std::vector<char*> pointers(static_cast<size_t>(n), nullptr);
      if (H5Aread(attribute, memory.get(), pointers.data()) < 0) fail("cannot read attribute " + what);
      for (char* p : pointers) {
        out.emplace_back(p != nullptr ? p : "");
        if (p != nullptr) H5free_memory(p);
      }
    } else {
      const size_t size = H5Tget_size(type.get());
      Id memory(H5Tcopy(type.get()));
      std::vector<char> raw(static_cast<size_t>(n) * size);
      if (H5Aread(attribute, memory.get(), raw.data()) < 0) fail("cannot read attribute " + what);
      const bool space_padded = H5Tget_strpad(type.get()) == H5T_STR_SPACEPAD;
      for (hssize_t i = 0; i < n; ++i) {
        std::string s(raw.data() + i * size, size);
        s = s.substr(0, s.find('\0'));
        if (space_padded) s.erase(s.find_last_not_of(' ') + 1);
        out.push_back(s);
      }
    }
    return out;
  }

  // A numeric attribute's values converted to T (integers, floats and enums).
  template <typename T>
  std::vector<T> attribute_numbers(hid_t attribute, const std::string& what) const {
    Id type(H5Aget_type(attribute));
    Id space(H5Aget_space(attribute));
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    std::vector<T> out;
    if (n <= 0) return out;
    out.resize(static_cast<size_t>(n));
    if (H5Tget_class(type.get()) == H5T_ENUM) {
      Id native(H5Tget_native_type(type.get(), H5T_DIR_ASCEND));
      Id base(H5Tget_super(native.get()));
      const size_t size = H5Tget_size(base.get());
      const bool is_signed = H5Tget_sign(base.get()) != H5T_SGN_NONE;
      std::vector<unsigned char> raw(static_cast<size_t>(n) * size);
      if (H5Aread(attribute, native.get(), raw.data()) < 0) fail("cannot read attribute " + what);
      for (hssize_t i = 0; i < n; ++i) {
        const unsigned char* p = raw.data() + i * size;
        out[i] = is_signed ? static_cast<T>(load_signed(p, size)) : static_cast<T>(load_unsigned(p, size));
      }
    } else if (H5Aread(attribute, memory_type<T>(), out.data()) < 0) {
      fail("cannot read attribute " + what);
    }
    return out;
  }

  // Reads an attribute for a typed getter, checking its class and (for scalars) its size.
  template <typename T>
  std::vector<T> typed_attribute(const std::string& object, const std::string& name, bool allow_float,
                                 bool scalar) const {
    Id attribute = open_attribute(object, name);
    Id type(H5Aget_type(attribute.get()));
    Id space(H5Aget_space(attribute.get()));
    const std::string what = quoted(name) + " of " + quoted(display_name(object));
    const Hdf5Class cls = class_of(type.get());
    const bool numeric =
        cls == Hdf5Class::kInteger || cls == Hdf5Class::kBool || (allow_float && cls == Hdf5Class::kFloat);
    if (!numeric)
      fail("attribute " + what + " is " + type_name(type.get()) + ", expected " +
               (allow_float ? "a number" : "an integer"),
           false);
    std::vector<T> values = attribute_numbers<T>(attribute.get(), what);
    if (scalar && values.size() != 1)
      fail("attribute " + what + " has " + std::to_string(values.size()) + " values, expected one", false);
    return values;
  }

  std::string format_attribute(hid_t attribute, const std::string& what) const {
    try {
      Id type(H5Aget_type(attribute));
      Id space(H5Aget_space(attribute));
      const H5S_class_t extent = H5Sget_simple_extent_type(space.get());
      if (extent == H5S_NULL) return "(empty)";
      const bool scalar = extent == H5S_SCALAR;
      std::vector<std::string> values;
      switch (H5Tget_class(type.get())) {
        case H5T_STRING:
          for (const std::string& s : attribute_strings(attribute, what)) values.push_back(escaped(s));
          break;
        case H5T_INTEGER:
          if (H5Tget_sign(type.get()) == H5T_SGN_NONE && H5Tget_size(type.get()) == 8) {
            Id memory(H5Tcopy(H5T_NATIVE_UINT64));
            Id s(H5Aget_space(attribute));
            std::vector<uint64_t> v(static_cast<size_t>(H5Sget_simple_extent_npoints(s.get())));
            if (!v.empty() && H5Aread(attribute, memory.get(), v.data()) < 0) fail("cannot read attribute " + what);
            for (uint64_t x : v) values.push_back(std::to_string(x));
          } else {
            for (int64_t x : attribute_numbers<int64_t>(attribute, what)) values.push_back(std::to_string(x));
          }
          break;
        case H5T_FLOAT:
          for (double x : attribute_numbers<double>(attribute, what)) values.push_back(format_number(x));
          break;
        case H5T_ENUM: {
          const bool is_bool = is_bool_enum(type.get());
          for (int64_t x : attribute_numbers<int64_t>(attribute, what))
            values.push_back(is_bool ? (x ? "true" : "false") : std::to_string(x));
          break;
        }
        default:
          return "<" + type_name(type.get()) + ">";
      }
      return join_values(values, scalar);
    } catch (const FileError&) {
      return "<unreadable>";
    }
  }

  std::vector<Hdf5Attribute> attributes_of(hid_t object) const {
    std::vector<std::string> names;
    hsize_t index = 0;
    H5Aiterate2(
        object, H5_INDEX_NAME, H5_ITER_INC, &index,
        [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
          static_cast<std::vector<std::string>*>(data)->emplace_back(name);
          return 0;
        },
        &names);
    std::vector<Hdf5Attribute> out;
    for (const std::string& name : names) {
      Id attribute(H5Aopen(object, name.c_str(), H5P_DEFAULT));
      out.push_back({name, attribute.ok() ? format_attribute(attribute.get(), quoted(name)) : "<unreadable>"});
    }
    return out;
  }

  void describe_dataset(hid_t dataset, Hdf5Member& member) const {
    Id space(H5Dget_space(dataset));
    Id type(H5Dget_type(dataset));
    if (space.ok()) member.shape = dimensions(space.get());
    if (type.ok()) member.dtype = type_name(type.get());
    Id plist(H5Dget_create_plist(dataset));
    if (!plist.ok()) return;
    if (H5Pget_layout(plist.get()) == H5D_CHUNKED) {
      std::vector<hsize_t> chunk(member.shape.size() + 1);
      const int rank = H5Pget_chunk(plist.get(), static_cast<int>(chunk.size()), chunk.data());
      if (rank > 0) member.chunk_shape.assign(chunk.begin(), chunk.begin() + rank);
    }
    const int filters = H5Pget_nfilters(plist.get());
    for (int i = 0; i < filters; ++i) {
      unsigned flags = 0, config = 0, values[8] = {0};
      size_t count = 8;
      char name[64] = {0};
      const H5Z_filter_t id =
          H5Pget_filter2(plist.get(), static_cast<unsigned>(i), &flags, &count, values, sizeof name, name, &config);
      if (id < 0) continue;
      member.filters += (member.filters.empty() ? "" : ", ") + filter_name(id, values, count, name);
    }
  }

  void visit(hid_t group, const std::string& path, int depth, std::vector<Hdf5Member>& out) const {
    H5G_info_t info;
    if (H5Gget_info(group, &info) < 0) return;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      const ssize_t length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      if (length < 0) continue;
      std::string name(static_cast<size_t>(length) + 1, '\0');
      H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
      name.resize(static_cast<size_t>(length));

      Hdf5Member member;
      member.path = (path == "/" ? "/" : path + "/") + name;
      member.depth = depth + 1;
      H5L_info_t link;
      if (H5Lget_info(group, name.c_str(), &link, H5P_DEFAULT) < 0) continue;
      if (link.type == H5L_TYPE_SOFT || link.type == H5L_TYPE_EXTERNAL) {
        std::vector<char> value(link.u.val_size + 1, '\0');
        H5Lget_val(group, name.c_str(), value.data(), link.u.val_size, H5P_DEFAULT);
        if (link.type == H5L_TYPE_SOFT) {
          member.kind = Hdf5Member::Kind::kSoftLink;
          member.link_target = value.data();
        } else {
          member.kind = Hdf5Member::Kind::kExternalLink;
          const char* file_name = nullptr;
          const char* object_name = nullptr;
          unsigned flags = 0;
          if (H5Lunpack_elink_val(value.data(), link.u.val_size, &flags, &file_name, &object_name) >= 0)
            member.link_target = std::string(file_name) + ":" + object_name;
        }
        out.push_back(member);
        continue;
      }
      Id object(H5Oopen(group, name.c_str(), H5P_DEFAULT));
      if (!object.ok()) {
        out.push_back(member);
        continue;
      }
      member.attributes = attributes_of(object.get());
      switch (H5Iget_type(object.get())) {
        case H5I_GROUP:
          member.kind = Hdf5Member::Kind::kGroup;
          out.push_back(member);
          if (depth + 1 < kMaxListDepth) visit(object.get(), member.path, depth + 1, out);
          break;
        case H5I_DATASET:
          member.kind = Hdf5Member::Kind::kDataset;
          describe_dataset(object.get(), member);
          out.push_back(member);
          break;
        case H5I_DATATYPE:
          member.kind = Hdf5Member::Kind::kNamedType;
          out.push_back(member);
          break;
        default:
          out.push_back(member);
      }
    }
  }
};

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

Hdf5File::~Hdf5File() {
  if (!impl_ || impl_->file < 0) return;
  quiet();
  impl_->append_targets.clear();
  H5Fclose(impl_->file);
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
  const hid_t file = H5Fcreate(path.c_str(), flags, H5P_DEFAULT, fapl.get());
  if (file >= 0) return file;
  const std::string reason = hdf5_reason();
  struct stat status;
  if ((flags & H5F_ACC_EXCL) && ::stat(path.c_str(), &status) == 0) throw FileError(path + ": already exists");
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
  if (status < 0) impl_->fail("cannot close (flush) the file");
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
  Id lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Id handle(H5Gcreate2(m.id(), name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!handle.ok()) m.fail("cannot create group " + quoted(name));
}

void Hdf5File::create_dataset(const std::string& dataset, Hdf5Type type, const std::vector<int64_t>& row_shape,
                              const Hdf5DatasetOptions& options) {
  quiet();
  Impl& m = impl();
  const std::string name = normalized(dataset);
  m.require_writable("create dataset " + quoted(name));
  if (name.empty()) m.fail("a dataset needs a name", false);
  if (m.link_exists(name)) m.fail("dataset " + quoted(name) + " already exists", false);
  for (int64_t d : row_shape)
    if (d <= 0)
      m.fail("dataset " + quoted(name) + ": row shape " + format_shape(row_shape) + " has a dimension < 1", false);
  if (options.gzip_level < 0 || options.gzip_level > 9)
    m.fail("dataset " + quoted(name) + ": gzip level " + std::to_string(options.gzip_level) + " not in 0..9", false);

  Id file_type;
  switch (type) {
    case Hdf5Type::kFloat32:
      file_type = Id(H5Tcopy(H5T_IEEE_F32LE));
      break;
    case Hdf5Type::kFloat64:
      file_type = Id(H5Tcopy(H5T_IEEE_F64LE));
      break;
    case Hdf5Type::kInt8:
      file_type = Id(H5Tcopy(H5T_STD_I8LE));
      break;
    case Hdf5Type::kInt32:
      file_type = Id(H5Tcopy(H5T_STD_I32LE));
      break;
    case Hdf5Type::kInt64:
      file_type = Id(H5Tcopy(H5T_STD_I64LE));
      break;
    case Hdf5Type::kUint8:
      file_type = Id(H5Tcopy(H5T_STD_U8LE));
      break;
    case Hdf5Type::kBool:
      file_type = make_bool_type(H5T_STD_I8LE);
      break;
  }
  if (!file_type.ok()) m.fail("cannot make the type of dataset " + quoted(name));
  const size_t element_size = H5Tget_size(file_type.get());

  const size_t rank = row_shape.size() + 1;
  std::vector<hsize_t> dims(rank, 0), max_dims(rank, H5S_UNLIMITED), chunk(rank);
  for (size_t i = 1; i < rank; ++i) dims[i] = max_dims[i] = static_cast<hsize_t>(row_shape[i - 1]);
  if (!options.chunk_shape.empty()) {
    bool fits = options.chunk_shape.size() == rank;
    for (size_t i = 0; fits && i < rank; ++i)
      fits = options.chunk_shape[i] >= 1 && (i == 0 || options.chunk_shape[i] <= row_shape[i - 1]);
    if (!fits)
      m.fail("dataset " + quoted(name) + ": chunk shape " + format_shape(options.chunk_shape) +
                 " does not fit rows of shape " + format_shape(row_shape),
             false);
    chunk.assign(options.chunk_shape.begin(), options.chunk_shape.end());
  } else {
    const int64_t row_bytes = element_count(row_shape) * static_cast<int64_t>(element_size);
    const int64_t rows = std::clamp<int64_t>(options.chunk_bytes / std::max<int64_t>(row_bytes, 1), 1, 1 << 20);
    chunk[0] = static_cast<hsize_t>(rows);
    for (size_t i = 1; i < rank; ++i) chunk[i] = dims[i];
  }
  double chunk_bytes = static_cast<double>(element_size);
  for (hsize_t c : chunk) chunk_bytes *= static_cast<double>(c);
  if (chunk_bytes >= 4294967295.0)
    m.fail("dataset " + quoted(name) + ": a chunk of " + format_number(chunk_bytes) +
               " bytes exceeds HDF5's 4 GiB limit; pass a smaller chunk_shape",
           false);

  Id space(H5Screate_simple(static_cast<int>(rank), dims.data(), max_dims.data()));
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  if (H5Pset_chunk(dcpl.get(), static_cast<int>(rank), chunk.data()) < 0)
    m.fail("cannot set the chunks of dataset " + quoted(name));
  if (options.gzip_level > 0) {
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0) m.fail("this HDF5 library has no gzip filter", false);
    if (options.shuffle) H5Pset_shuffle(dcpl.get());
    H5Pset_deflate(dcpl.get(), static_cast<unsigned>(options.gzip_level));
  }
  Id lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  // Room for the chunk being filled plus a few more, so appends never evict a partial chunk.
  Id dapl(H5Pcreate(H5P_DATASET_ACCESS));
  const size_t cache_bytes = std::max<size_t>(1 << 20, static_cast<size_t>(4 * chunk_bytes));
  H5Pset_chunk_cache(dapl.get(), 521, cache_bytes, 1.0);

  Impl::AppendTarget target;
  target.dataset =
      Id(H5Dcreate2(m.id(), name.c_str(), file_type.get(), space.get(), lcpl.get(), dcpl.get(), dapl.get()));
  if (!target.dataset.ok()) m.fail("cannot create dataset " + quoted(name));
  target.row_shape = row_shape;
  target.row_size = element_count(row_shape);
  target.is_bool = type == Hdf5Type::kBool;
  m.append_targets[name] = std::move(target);
}

template <typename T>
void Hdf5File::append(const std::string& dataset, const T* data, int64_t rows) {
  quiet();
  impl().append(dataset, data, rows);
}

template <typename T>
void Hdf5File::append(const std::string& dataset, const std::vector<T>& data) {
  quiet();
  Impl& m = impl();
  const Impl::AppendTarget& target = m.append_target(dataset);
  const int64_t row_size = std::max<int64_t>(target.row_size, 1);
  if (static_cast<int64_t>(data.size()) % row_size != 0)
    m.fail("cannot append " + std::to_string(data.size()) + " values to dataset " + quoted(normalized(dataset)) +
               ": not a whole number of rows of " + std::to_string(row_size),
           false);
  m.append(dataset, data.data(), static_cast<int64_t>(data.size()) / row_size);
}

Hdf5DatasetInfo Hdf5File::dataset_info(const std::string& dataset) const {
  quiet();
  const Impl& m = impl();
  Id handle = m.open_dataset(dataset);
  Id space(H5Dget_space(handle.get()));
  Id type(H5Dget_type(handle.get()));
  if (!space.ok() || !type.ok()) m.fail("cannot read the shape and type of dataset " + quoted(normalized(dataset)));
  Hdf5DatasetInfo info;
  info.shape = dimensions(space.get());
  info.dtype = type_name(type.get());
  info.element_class = class_of(type.get());
  return info;
}

template <typename T>
Hdf5Array<T> Hdf5File::read(const std::string& dataset) const {
  quiet();
  return impl().read<T>(dataset, nullptr, nullptr);
}

template <typename T>
Hdf5Array<T> Hdf5File::read_rows(const std::string& dataset, int64_t begin, int64_t count) const {
  quiet();
  const Hdf5DatasetInfo info = dataset_info(dataset);
  if (info.shape.empty()) impl().fail("dataset " + quoted(normalized(dataset)) + " is scalar, it has no rows", false);
  std::vector<int64_t> start(info.shape.size(), 0), counts(info.shape);
  start[0] = begin;
  counts[0] = count;
  return impl().read<T>(dataset, &start, &counts);
}

template <typename T>
Hdf5Array<T> Hdf5File::read_slab(const std::string& dataset, const std::vector<int64_t>& start,
                                 const std::vector<int64_t>& count) const {
  quiet();
  return impl().read<T>(dataset, &start, &count);
}

#define SHARDLAB_HDF5_ELEMENT(T)                                                                \
  template void Hdf5File::append<T>(const std::string&, const T*, int64_t);                     \
  template void Hdf5File::append<T>(const std::string&, const std::vector<T>&);                 \
  template Hdf5Array<T> Hdf5File::read<T>(const std::string&) const;                            \
  template Hdf5Array<T> Hdf5File::read_rows<T>(const std::string&, int64_t, int64_t) const;     \
  template Hdf5Array<T> Hdf5File::read_slab<T>(const std::string&, const std::vector<int64_t>&, \
                                               const std::vector<int64_t>&) const;
SHARDLAB_HDF5_ELEMENT(float)
SHARDLAB_HDF5_ELEMENT(double)
SHARDLAB_HDF5_ELEMENT(int8_t)
SHARDLAB_HDF5_ELEMENT(uint8_t)
SHARDLAB_HDF5_ELEMENT(int32_t)
SHARDLAB_HDF5_ELEMENT(int64_t)
#undef SHARDLAB_HDF5_ELEMENT

void Hdf5File::set_string_attribute(const std::string& object, const std::string& name, const std::string& value) {
  quiet();
  Id type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  Id space(H5Screate(H5S_SCALAR));
  const char* text = value.c_str();
  impl().write_attribute(object, name, type.get(), type.get(), space.get(), &text);
}

void Hdf5File::set_int_attribute(const std::string& object, const std::string& name, int64_t value) {
  quiet();
  Id space(H5Screate(H5S_SCALAR));
  impl().write_attribute(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space.get(), &value);
}

void Hdf5File::set_double_attribute(const std::string& object, const std::string& name, double value) {
  quiet();
  Id space(H5Screate(H5S_SCALAR));
  impl().write_attribute(object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space.get(), &value);
}

void Hdf5File::set_int_array_attribute(const std::string& object, const std::string& name,
                                       const std::vector<int64_t>& value) {
  quiet();
  const hsize_t n = value.size();
  Id space(H5Screate_simple(1, &n, nullptr));
  impl().write_attribute(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space.get(), value.data());
}

void Hdf5File::set_double_array_attribute(const std::string& object, const std::string& name,
                                          const std::vector<double>& value) {
  quiet();
  const hsize_t n = value.size();
  Id space(H5Screate_simple(1, &n, nullptr));
  impl().write_attribute(object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space.get(), value.data());
}

bool Hdf5File::has_attribute(const std::string& object, const std::string& name) const {
  quiet();
  const Impl& m = impl();
  if (m.object_type(object) == H5I_BADID) return false;
  Id owner = m.open_object(object);
  return H5Aexists(owner.get(), name.c_str()) > 0;
}

std::string Hdf5File::string_attribute(const std::string& object, const std::string& name) const {
  quiet();
  const Impl& m = impl();
  Id attribute = m.open_attribute(object, name);
  Id type(H5Aget_type(attribute.get()));
  const std::string what = quoted(name) + " of " + quoted(display_name(object));
  if (H5Tget_class(type.get()) != H5T_STRING)
    m.fail("attribute " + what + " is " + type_name(type.get()) + ", expected a string", false);
  std::vector<std::string> values = m.attribute_strings(attribute.get(), what);
  if (values.size() != 1)
    m.fail("attribute " + what + " has " + std::to_string(values.size()) + " strings, expected one", false);
  return values[0];
}

int64_t Hdf5File::int_attribute(const std::string& object, const std::string& name) const {
  quiet();
  return impl().typed_attribute<int64_t>(object, name, false, true)[0];
}

double Hdf5File::double_attribute(const std::string& object, const std::string& name) const {
  quiet();
  return impl().typed_attribute<double>(object, name, true, true)[0];
}

std::vector<int64_t> Hdf5File::int_array_attribute(const std::string& object, const std::string& name) const {
  quiet();
  return impl().typed_attribute<int64_t>(object, name, false, false);
}

std::vector<double> Hdf5File::double_array_attribute(const std::string& object, const std::string& name) const {
  quiet();
  return impl().typed_attribute<double>(object, name, true, false);
}

std::vector<Hdf5Attribute> Hdf5File::attributes(const std::string& object) const {
  quiet();
  Id owner = impl().open_object(object);
  return impl().attributes_of(owner.get());
}

std::vector<Hdf5Member> Hdf5File::list() const {
  quiet();
  const Impl& m = impl();
  Id root = m.open_object("/");
  std::vector<Hdf5Member> out;
  Hdf5Member member;
  member.path = "/";
  member.kind = Hdf5Member::Kind::kGroup;
  member.attributes = m.attributes_of(root.get());
  out.push_back(member);
  m.visit(root.get(), "/", 0, out);
  return out;
}

}  // namespace shardlab
