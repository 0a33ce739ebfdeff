<?php

// PSR-4 autoloader for using the SDK without Composer: `require 'path/to/sdk/php/autoload.php';`.
// With Composer, vendor/autoload.php does the same from composer.json's "autoload" section.

declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    $prefix = 'SparkAI\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
