//! The one module that talks to rumqttc.
