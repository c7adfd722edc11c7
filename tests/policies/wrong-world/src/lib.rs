//! A valid WebAssembly component that is not a policy: it implements its own
//! tiny world instead of `paastis:policy/policy`, so it compiles and
//! instantiates but lacks the `handler` export the gateway needs.

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        inline: "
            package paastis-test:wrong-world;

            world other {
                export hello: func() -> string;
            }
        ",
        world: "other",
    });

    struct Other;

    impl Guest for Other {
        fn hello() -> String {
            "not a policy".to_owned()
        }
    }

    export!(Other);
}
