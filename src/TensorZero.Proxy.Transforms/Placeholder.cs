namespace TensorZero.Proxy.Transforms; internal static class Placeholder { }
